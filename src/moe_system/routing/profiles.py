"""What the routers know about each installed expert: its manifest's routing hints and example requests.

A profile comes from the manifest (`routing.keywords`, `exclude_keywords`, `examples`, `category`,
`priority`) plus the package's `examples/prompts.jsonl` (requests from its training data, written by the
trainer). Profiles are plain data, so the strategies can be fitted and tested without a registry.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moe_system.experts.layout import DEFAULT_MAX_BYTES, EXAMPLE_PROMPTS_FILE
from moe_system.experts.unpack import extract_package
from moe_system.experts.verify import verify_folder

if TYPE_CHECKING:
    from moe_system.experts.manifest import Manifest
    from moe_system.experts.registry import InstalledExpert

MAX_EXAMPLES = 400  # per expert: enough to fit on, bounded so 64 experts still fit in a second
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpertProfile:
    """One routable expert."""

    name: str
    keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    category: str | None = None
    priority: float = 0.5


def profile_of(expert: InstalledExpert) -> ExpertProfile:
    """The profile of an installed expert (unreadable example files are skipped with a warning)."""
    return profile_from(expert.manifest, expert.path)


def profile_from(manifest: Manifest, folder: Path) -> ExpertProfile:
    """The profile of the package unpacked in `folder` whose manifest is `manifest`."""
    routing = manifest.routing
    return ExpertProfile(
        name=manifest.name,
        keywords=tuple(routing.keywords),
        exclude_keywords=tuple(routing.exclude_keywords),
        examples=tuple(_unique([*routing.examples, *_example_prompts(manifest.name, folder)]))[:MAX_EXAMPLES],
        category=routing.category,
        priority=routing.priority,
    )


def package_profile(path: Path) -> ExpertProfile:
    """The profile of a `.expert` file or package folder, verified (hashes, signature) but not installed: what
    the router would learn from it (`moe bench router --packages DIR`)."""
    if path.is_dir():
        return profile_from(verify_folder(path).manifest, path)
    with tempfile.TemporaryDirectory(prefix="moe-profile-") as tmp:
        folder = extract_package(path, Path(tmp) / "package", DEFAULT_MAX_BYTES)
        return profile_from(verify_folder(folder).manifest, folder)


def profiles_of(experts: Iterable[InstalledExpert]) -> list[ExpertProfile]:
    """Profiles of the newest version of each installed expert, sorted by name."""
    newest: dict[str, InstalledExpert] = {}
    for expert in experts:
        newest.setdefault(expert.name, expert)  # the registry lists the newest version of a name first
    return [profile_of(newest[name]) for name in sorted(newest)]


def _example_prompts(name: str, folder: Path) -> list[str]:
    path = folder / EXAMPLE_PROMPTS_FILE
    if not path.is_file():
        return []
    texts = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if isinstance(record, dict) and isinstance(record.get("text"), str):
                    texts.append(record["text"])
    except (OSError, ValueError) as err:
        _LOG.warning("expert %s: %s is unreadable (%s); routing uses its manifest only", name,
                     EXAMPLE_PROMPTS_FILE, err)
    return texts


def _unique(texts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [t for t in texts if t.strip() and not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]
