"""Where `moe experts install SOURCE` takes an expert from: a `.expert` file, a package folder or a git repo.

    /path/to/sql-1.0.0.expert            any existing file: a package, verified by the registry
    /path/to/folder                      an unpacked package (holds manifest.json)
    git+https://host/repo.git#v1.0.0     a shallow clone of REF (also git+file:///…, git+ssh://…)
    /path/to/local/repo#v1.0.0           a local git repository at REF

A git repository's root must be a package folder or hold exactly one `*.expert` file. It is cloned
without hooks, prompts or the `ext::` transport into a scratch folder the caller owns (the registry's
staging area, so nothing is written outside `MOE_HOME`), and its `.git` folder is dropped before use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from moe_system.errors import ExpertError, PackageError
from moe_system.experts.layout import PACKAGE_SUFFIX
from moe_system.experts.manifest import MANIFEST_FILE

GIT_SCHEMES = ("https://", "http://", "ssh://", "file://")
GIT_TIMEOUT_S = 300


@dataclass(frozen=True)
class ResolvedSource:
    """A local package to install: `path` is a `.expert` file or a package folder.

    `source` is the canonical spelling recorded in the registry, so `moe experts update NAME` can fetch
    the same place again (absolute paths; git sources as `git+URL#REF`).
    """

    path: Path
    source: str


@contextmanager
def open_source(source: str | Path, scratch: Path) -> Iterator[ResolvedSource]:
    """Resolve `source` to a local package; a git clone lives in a folder under `scratch` until exit."""
    spec = str(source)
    git = _git_spec(spec)
    if git is None:
        yield _local(spec)
        return
    url, ref = git
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="git-", dir=scratch))
    try:
        clone = work / "repo"
        _clone(url, ref, clone)
        canonical = f"git+{url}" + (f"#{ref}" if ref else "")
        yield ResolvedSource(_package_in_repo(clone, canonical), canonical)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _local(spec: str) -> ResolvedSource:
    path = Path(spec).expanduser()
    if path.is_file():
        return ResolvedSource(path.resolve(), str(path.resolve()))
    if path.is_dir():
        if not (path / MANIFEST_FILE).is_file():
            raise PackageError(
                f"{path} is not an expert package folder (no {MANIFEST_FILE}); "
                "pack a PEFT adapter folder first with `moe experts package`"
            )
        return ResolvedSource(path.resolve(), str(path.resolve()))
    raise ExpertError(
        f"install source '{spec}' not found: give a {PACKAGE_SUFFIX} file, a package folder, "
        "a git URL (git+https://…#REF) or a local git repository (PATH#REF)"
    )


def _git_spec(spec: str) -> tuple[str, str | None] | None:
    """(clone URL, ref or None) for a git source, None for a plain file or folder."""
    if spec.startswith("git+"):
        url, _, ref = spec[len("git+") :].partition("#")
        if not url.startswith(GIT_SCHEMES):
            raise ExpertError(f"unsupported git URL '{spec}': use git+{'|git+'.join(s[:-3] for s in GIT_SCHEMES)}")
    else:
        path, hash_mark, ref = spec.rpartition("#")
        repo = Path(path).expanduser()
        if not hash_mark or not repo.is_dir() or Path(spec).expanduser().exists():
            return None
        if not (repo / ".git").exists() and not (repo / "HEAD").is_file():
            raise ExpertError(f"{repo} is not a git repository (PATH#REF installs a local repository at REF)")
        url = repo.resolve().as_uri()  # file:// so that --depth applies to local clones too
    if ref.startswith("-"):
        raise ExpertError(f"bad git ref '{ref}' in '{spec}'")
    return url, ref or None


def _clone(url: str, ref: str | None, dest: Path) -> None:
    """Shallow-clone `url` at `ref` into `dest`, with hooks, prompts and the `ext::` transport disabled."""
    if shutil.which("git") is None:
        raise ExpertError("installing from a git repository needs the `git` program, which is not on PATH")
    no_hooks = ["-c", "core.hooksPath=/dev/null", "-c", "protocol.ext.allow=never"]
    branch = ["--branch", ref] if ref else []
    command = ["git", *no_hooks, "clone", "--depth", "1", "--quiet", *branch, "--", url, str(dest)]
    env = os.environ | {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
    }
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise ExpertError(f"git clone of {url} took longer than {GIT_TIMEOUT_S} s") from error
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
        raise ExpertError(f"git clone of {url}" + (f" at '{ref}'" if ref else "") + f" failed: {reason}")
    shutil.rmtree(dest / ".git", ignore_errors=True)


def _package_in_repo(root: Path, source: str) -> Path:
    """The package folder (the repo root) or the one `*.expert` file at the root of a cloned repo."""
    if (root / MANIFEST_FILE).is_file():
        return root
    packages = sorted(p for p in root.glob(f"*{PACKAGE_SUFFIX}") if p.is_file() and not p.is_symlink())
    if len(packages) == 1:
        return packages[0]
    found = f"{len(packages)} {PACKAGE_SUFFIX} files" if packages else f"no {MANIFEST_FILE} and no {PACKAGE_SUFFIX}"
    raise PackageError(
        f"{source}: the repository root must be a package folder or hold one {PACKAGE_SUFFIX} file ({found} found)"
    )
