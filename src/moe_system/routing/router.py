"""`Router`: the strategies over the currently installed experts, refitted when the installed set changes.

Every `route` call first compares the registry's revision with the one it was built for (one SQLite read),
so an expert installed or removed by any process is routable, or gone, on the next request without a
restart. The fitted strategies are stored under `MOE_HOME/experts/.router/KEY/`, where KEY hashes the
profiles and the bundled examples, so a process that finds them there loads them instead of refitting; storing
a fit removes the same strategy's older fits for other expert sets (`remove_older_fits`).
The semantic strategy is fitted on first need (it embeds every example once); the others at build time.

    router = Router(registry)
    router.route("Сколько будет 15% от 240?")            # RoutingDecision(expert="math", ...)
    router.route("What is a JOIN?", strategy="rules")   # one strategy alone
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, get_args

from moe_system.config import RoutingStrategy
from moe_system.errors import InvalidRequestError
from moe_system.routing.cascade import CascadeRouter
from moe_system.routing.decision import RoutingDecision
from moe_system.routing.hierarchical import HierarchicalRouter, categories
from moe_system.routing.learned import LinearRouter, bundled_examples, training_set
from moe_system.routing.profiles import ExpertProfile, profiles_of
from moe_system.routing.rules import RuleRouter
from moe_system.routing.semantic import SemanticRouter

if TYPE_CHECKING:
    from moe_system.experts.registry import Registry

STRATEGIES: tuple[str, ...] = get_args(RoutingStrategy)
FORMAT = 1  # bump when what is stored changes
ROUTER_DIR = ".router"  # dot: the registry leaves dot folders of its root alone


def check_strategy(name: str) -> str:
    """`name` if it is a strategy, else a one-line `InvalidRequestError` listing them."""
    if name not in STRATEGIES:
        raise InvalidRequestError(f"unknown routing strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    return name


class _Routes(Protocol):
    def route(self, text: str) -> RoutingDecision: ...


class _Storable(Protocol):
    """A fitted strategy that `Strategies` stores under the router folder and loads back."""

    def save(self, folder: Path) -> None: ...


_Stored = TypeVar("_Stored", LinearRouter, HierarchicalRouter, SemanticRouter)


class Strategies:
    """All strategies fitted for one set of profiles (no registry needed: tests and benchmarks use it)."""

    def __init__(self, profiles: Sequence[ExpertProfile], store: Path | None = None,
                 bundled: Sequence[tuple[str, str | None]] | None = None) -> None:
        self.profiles = list(profiles)
        self.store = store
        self.data = training_set(self.profiles, bundled)
        self.rules = RuleRouter(self.profiles)
        self.learned = self._load_or_fit(
            "learned", LinearRouter, lambda: LinearRouter.fit(self.data.texts, self.data.labels, self.data.weights))
        self.hierarchical = self._load_or_fit(
            "hierarchical", HierarchicalRouter, lambda: HierarchicalRouter.fit(self.data, categories(self.profiles)))
        self._semantic: SemanticRouter | None = None
        self._lock = threading.Lock()
        self.cascade = CascadeRouter(self.rules, self.learned, self.hierarchical)

    def semantic(self) -> SemanticRouter:
        with self._lock:
            if self._semantic is None:
                self._semantic = self._load_or_fit("semantic", SemanticRouter,
                                                   lambda: SemanticRouter.fit(self.data.texts, self.data.labels,
                                                                             self.data.varied))
            return self._semantic

    def get(self, strategy: str) -> _Routes:
        return self.semantic() if check_strategy(strategy) == "semantic" else getattr(self, strategy)

    def _load_or_fit(self, name: str, kind: type[_Stored], fit: Callable[[], _Stored]) -> _Stored:
        folder = self.store / name if self.store is not None else None
        if folder is not None and folder.is_dir():
            with contextlib.suppress(FileNotFoundError):  # another process removed it as outdated: fit it again
                return kind.load(folder)
        fitted = fit()
        if folder is not None:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
            fitted.save(tmp / "x")
            with contextlib.suppress(OSError):  # another process stored the same meanwhile: keep theirs
                (tmp / "x").rename(folder)
            shutil.rmtree(tmp, ignore_errors=True)
            remove_older_fits(folder)
        return fitted


def remove_older_fits(folder: Path) -> None:
    """Remove the fits of `folder`'s strategy stored for other expert sets (`.router/OTHER/<strategy>`) before
    `folder` was, and the key folders they leave empty: the fits of sets no longer installed would otherwise pile
    up with every install and removal. Each goes by a rename out of the way first, so a process never loads half
    of one (a process that finds it gone fits again); errors are ignored, as another process may be removing or
    storing the same."""
    try:
        written = folder.stat().st_mtime_ns
        keys = [key for key in folder.parent.parent.iterdir() if key != folder.parent and not key.name.startswith(".")]
    except OSError:
        return
    for key in keys:
        old = key / folder.name
        with contextlib.suppress(OSError):
            if old.stat().st_mtime_ns <= written:  # a fit stored since, by a process that sees a newer set, stays
                gone = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=key))
                try:
                    old.rename(gone / "x")
                finally:
                    shutil.rmtree(gone, ignore_errors=True)
        with contextlib.suppress(OSError):
            key.rmdir()  # only once empty (every strategy's fit gone)


class Router:
    """Routes over the registry's installed experts (see the module doc)."""

    def __init__(self, registry: Registry, default: str = "cascade") -> None:
        self.registry = registry
        self.default = default
        self._revision: int | None = None
        self._strategies: Strategies | None = None
        self._lock = threading.Lock()

    def route(self, text: str, strategy: str | None = None) -> RoutingDecision:
        chosen = check_strategy(strategy or self.default)
        strategies = self.current()
        if strategies is None:
            return RoutingDecision(None, 1.0, [], "none", "no experts are installed; the base model answers")
        return strategies.get(chosen).route(text)

    def current(self) -> Strategies | None:
        """The strategies for the experts installed now (None when there are none)."""
        revision = self.registry.revision()
        with self._lock:
            if revision != self._revision:
                profiles = profiles_of(self.registry.list())
                self._strategies = Strategies(profiles, self._store(profiles)) if profiles else None
                self._revision = revision
            return self._strategies

    def _store(self, profiles: Sequence[ExpertProfile]) -> Path:
        digest = hashlib.sha256(json.dumps([FORMAT, [asdict(p) for p in profiles], bundled_examples("train")],
                                           ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:20]
        return self.registry.root / ROUTER_DIR / digest
