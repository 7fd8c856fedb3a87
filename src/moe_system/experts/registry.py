"""The installed experts: a SQLite index over unpacked packages in `MOE_HOME/experts/NAME/VERSION/`.

Several versions of one expert live side by side; `get(name)` picks the highest semver. An install is
checked before anything lands: integrity (every file hash, the signature), trust (a signed package whose key
is in `experts.trusted_publishers`, else only with `allow_unsigned`), the base model (the manifest's
`base_model.sha256` must equal the running base's fingerprint) and duplicates. It is then atomic: the
package is unpacked and re-verified in `experts/.staging/`, fsynced, renamed into `NAME/VERSION` and only
then recorded, in one transaction that also bumps `revision()`. A crash in between leaves a folder without a
row, which the next `Registry()` removes (and a row without a folder is dropped with a warning), as it removes the
staging folder of an install that was killed (a `durable.Scratch`: another process's install in progress stays).
Installs and that cleanup hold an exclusive file lock, so several processes can share one `MOE_HOME`; other
processes notice changes through `revision()`. Nothing is written outside `experts_dir`.

    with Registry(load_settings()) as registry:
        registry.install("sql-1.0.0.expert", base_sha256=base_sha256(settings))
        registry.get("sql").path          # …/experts/sql/1.0.0
"""

from __future__ import annotations

import builtins
import fcntl
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from moe_system.config import Settings
from moe_system.durable import Scratch, fsync_dir, fsync_tree, sweep_scratch
from moe_system.errors import ExpertError
from moe_system.experts.layout import RUNNABLE_KINDS
from moe_system.experts.manifest import MANIFEST_FILE, Manifest, semver_key
from moe_system.experts.sources import open_source
from moe_system.experts.unpack import check_folder, extract_package
from moe_system.experts.verify import Verification, verify_folder
from moe_system.migrations import open_sqlite

DB_FILE = "registry.db"
MIGRATIONS = Path(__file__).parent / "migrations"  # the schema: Alembic scripts (see moe_system.migrations)
VERSION_TABLE = "alembic_registry"
STAGING = ".staging"
INSTALL_PREFIX = "install-"  # .staging/install-*: one install's scratch folder
STALE_STAGING_S = 3600  # a staging entry older than this belongs to a crashed install
_LOG = logging.getLogger(__name__)



@dataclass
class InstalledExpert:
    """One installed name + version: its manifest, where its files are and how it got there."""

    name: str
    version: str
    kind: str
    base_model: str
    base_sha256: str
    path: Path
    signed: bool
    publisher: str | None  # fingerprint of the signing key, None when unsigned
    source: str
    installed_at: str  # ISO 8601, UTC
    size_bytes: int
    manifest: Manifest

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary; `name`, `version`, `kind`, `base_model` are the `moe experts list --json` contract."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "base_model": self.base_model,
            "base_sha256": self.base_sha256,
            "description": self.manifest.description,
            "category": self.manifest.routing.category,
            "signed": self.signed,
            "publisher": self.publisher,
            "installed_at": self.installed_at,
            "size_mb": round(self.size_bytes / 2**20, 3),
            "path": str(self.path),
            "source": self.source,
        }


def trusting(settings: Settings, public_key: str) -> Settings:
    """`settings` with `public_key` added to `experts.trusted_publishers`, for installs whose publisher the
    caller vouches for itself: the project key that signed a package a moment ago, or the key shipped beside
    the starter experts in the repository."""
    keys = [*settings.experts.trusted_publishers, public_key.strip()]
    return settings.model_copy(update={"experts": settings.experts.model_copy(update={"trusted_publishers": keys})})


# The columns of `experts` are the fields of `InstalledExpert` but `path` (always experts_dir/NAME/VERSION).
_FIELDS = tuple(f.name for f in fields(InstalledExpert) if f.name != "path")
_COLUMNS = ", ".join(_FIELDS)


class Registry:
    """The SQLite registry of installed experts (see the module doc). Safe to share between threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.experts_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self._max_bytes = settings.experts.max_package_mb * 2**20
        self._lock = threading.RLock()
        path = self.root / DB_FILE
        self._db = open_sqlite(path, MIGRATIONS, VERSION_TABLE, f"the expert registry {path}")
        self._reconcile()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- queries

    def list(self) -> list[InstalledExpert]:
        """Every installed version, by name, newest version first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM experts").fetchall()
        experts = [self._row(row) for row in rows]
        experts.sort(key=lambda e: semver_key(e.version), reverse=True)
        experts.sort(key=lambda e: e.name)  # stable: versions stay newest first within a name
        return experts

    def names(self) -> builtins.list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT name FROM experts ORDER BY name")]

    def get(self, name: str, version: str | None = None) -> InstalledExpert:
        """`name` at `version`, or its highest installed version; `ExpertError` when not installed."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM experts WHERE name = ?", (name,)).fetchall()
        if not rows:
            names = self.names()
            raise ExpertError(
                f"expert '{name}' is not installed ({'installed: ' + ', '.join(names) if names else 'none installed'})"
            )
        versions = {row[1]: row for row in rows}
        if version is None:
            return self._row(versions[max(versions, key=semver_key)])
        if version not in versions:
            shown = ", ".join(sorted(versions, key=semver_key, reverse=True))
            raise ExpertError(f"expert '{name}' has no version {version} installed (installed: {shown})")
        return self._row(versions[version])

    def revision(self) -> int:
        """A counter bumped by every install and remove, in any process sharing this `MOE_HOME`."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])

    # ---- changes

    def install(
        self, source: str | Path, *, base_sha256: str, allow_unsigned: bool = False, replace: bool = False,
        recorded_as: str | None = None,
    ) -> InstalledExpert:
        """Verify and install a `.expert` file, a package folder or a git source (see `experts.sources`);
        `recorded_as`: the source the registry keeps (default: where it came from; an upload's temporary file is
        gone once installed)."""
        with self._staged(source) as (staged, verification, spec):
            self._check(verification, base_sha256, allow_unsigned)
            return self._commit(staged, verification, recorded_as or spec, replace)

    def update(
        self, name: str, source: str | None = None, *, base_sha256: str, allow_unsigned: bool = False
    ) -> InstalledExpert | None:
        """Install a newer version of `name` from `source` (default: where it was installed from).

        Returns None when the source holds no version newer than the latest installed one."""
        latest = self.get(name)
        with self._staged(source or latest.source) as (staged, verification, spec):
            manifest = verification.manifest
            if manifest.name != name:
                raise ExpertError(f"{spec} holds expert '{manifest.name}', not '{name}'")
            if semver_key(manifest.version) <= semver_key(latest.version):
                return None
            self._check(verification, base_sha256, allow_unsigned)
            return self._commit(staged, verification, spec, replace=False)

    def remove(self, name: str, version: str | None = None) -> builtins.list[InstalledExpert]:
        """Uninstall one version, or every version when `version` is None; returns what was removed."""
        if version is None:
            self.get(name)  # raises the "not installed" error
            removed = [expert for expert in self.list() if expert.name == name]
        else:
            removed = [self.get(name, version)]
        with self._locked():
            with self._transaction() as db:
                for expert in removed:
                    db.execute("DELETE FROM experts WHERE name = ? AND version = ?", (expert.name, expert.version))
                db.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
            for expert in removed:
                shutil.rmtree(expert.path, ignore_errors=True)
            _remove_if_empty(self.root / name)
        return removed

    # ---- install steps

    @contextmanager
    def _staged(self, source: str | Path) -> Iterator[tuple[Path, Verification, str]]:
        """Unpack or copy `source` into a staging folder and verify it there (hashes and signature).

        Verifying the staged copy (not the source) means what gets installed is exactly what was checked."""
        with Scratch(self.root / STAGING, INSTALL_PREFIX) as work:
            with open_source(source, work.path) as resolved:  # a clone lands in the locked scratch folder too
                staged = work.path / "expert"
                if resolved.path.is_file():
                    extract_package(resolved.path, staged, self._max_bytes)  # safe: checks every member first
                else:
                    check_folder(resolved.path, self._max_bytes)
                    shutil.copytree(resolved.path, staged, symlinks=True)
            verification = verify_folder(staged, self._max_bytes)
            yield staged, verification, resolved.source

    def _check(self, verification: Verification, base_sha256: str, allow_unsigned: bool) -> None:
        """Refuse a package of a kind this release cannot run, one built for another base model, or one not signed by
        a trusted publisher."""
        manifest = verification.manifest
        label = f"expert '{manifest.name}' {manifest.version}"
        if manifest.kind not in RUNNABLE_KINDS:
            raise ExpertError(
                f"{label} is of kind '{manifest.kind}', which this release cannot run (it runs "
                f"{', '.join(sorted(RUNNABLE_KINDS))}); it was not installed"
            )
        if manifest.base_model.sha256 != base_sha256:
            raise ExpertError(
                f"{label} was built for base model '{manifest.base_model.name}' "
                f"(sha256 {manifest.base_model.sha256[:12]}…), but the configured base model is "
                f"'{self.settings.base.name}' (sha256 {base_sha256[:12]}…): set base.name to the expert's base model"
            )
        if allow_unsigned:
            return
        trusted = {key.strip() for key in self.settings.experts.trusted_publishers}
        if not verification.signed:
            raise ExpertError(
                f"{label} is not signed: install it anyway with --allow-unsigned, or have it signed "
                "(`moe experts sign`) by a key listed in experts.trusted_publishers"
            )
        if verification.public_key not in trusted:
            raise ExpertError(
                f"{label} is signed by an untrusted key (fingerprint {verification.fingerprint}): trust it by adding "
                f"'{verification.public_key}' to experts.trusted_publishers (or MOE_EXPERTS__TRUSTED_PUBLISHERS), "
                "or pass --allow-unsigned"
            )

    def _commit(self, staged: Path, verification: Verification, source: str, replace: bool) -> InstalledExpert:
        """Move a verified staging folder into `NAME/VERSION` and record it, atomically."""
        manifest = verification.manifest
        target = self.root / manifest.name / manifest.version
        fsync_tree(staged)
        with self._locked():
            with self._lock:
                exists = self._db.execute(
                    "SELECT 1 FROM experts WHERE name = ? AND version = ?", (manifest.name, manifest.version)
                ).fetchone()
            if exists and not replace:
                raise ExpertError(
                    f"expert '{manifest.name}' {manifest.version} is already installed: pass --replace to reinstall "
                    "it, or publish a new version"
                )
            old = staged.with_name("replaced") if target.exists() else None
            if old is not None:
                os.replace(target, old)  # the old version stays in staging until the new row is committed
            target.parent.mkdir(exist_ok=True)
            os.replace(staged, target)
            fsync_dir(target.parent)
            expert = InstalledExpert(
                name=manifest.name,
                version=manifest.version,
                kind=manifest.kind,
                base_model=manifest.base_model.name,
                base_sha256=manifest.base_model.sha256,
                path=target,
                signed=verification.signed,
                publisher=verification.fingerprint,
                source=source,
                installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                size_bytes=sum(p.stat().st_size for p in target.rglob("*") if p.is_file()),
                manifest=manifest,
            )
            try:
                with self._transaction() as db:
                    values = {field: getattr(expert, field) for field in _FIELDS} | {"manifest": manifest.to_json()}
                    placeholders = ", ".join(f":{field}" for field in _FIELDS)
                    db.execute(f"INSERT OR REPLACE INTO experts ({_COLUMNS}) VALUES ({placeholders})", values)
                    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                if old is not None:
                    os.replace(old, target)
                raise
        return expert

    # ---- housekeeping

    def _reconcile(self) -> None:
        """Drop rows whose folder is gone, folders without a row and stale staging entries."""
        with self._locked():
            with self._lock:
                rows = self._db.execute("SELECT name, version FROM experts").fetchall()
            recorded = {(name, version) for name, version in rows}
            missing = [(n, v) for n, v in recorded if not (self.root / n / v / MANIFEST_FILE).is_file()]
            for name, version in missing:
                _LOG.warning("expert '%s' %s is registered but its folder is gone; forgetting it", name, version)
            orphans = [
                folder
                for parent in self.root.iterdir()
                if parent.is_dir() and not parent.name.startswith(".")
                for folder in parent.iterdir()
                if (parent.name, folder.name) not in recorded
            ]
            if missing:
                with self._transaction() as db:
                    db.executemany("DELETE FROM experts WHERE name = ? AND version = ?", missing)
                    db.execute("UPDATE meta SET value = value + 1 WHERE key = 'revision'")
            for folder in orphans:  # an install that crashed between the rename and the row
                _LOG.warning("removing %s: not in the registry (left by an interrupted install)", folder)
                if folder.is_dir():
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    folder.unlink()
            for parent in {folder.parent for folder in orphans} | {self.root / n for n, _ in missing}:
                _remove_if_empty(parent)
            staging = self.root / STAGING
            sweep_scratch(staging, INSTALL_PREFIX)  # installs that were killed
            if staging.is_dir():
                for entry in staging.iterdir():
                    if time.time() - entry.lstat().st_mtime > STALE_STAGING_S:
                        shutil.rmtree(entry, ignore_errors=True)

    def _row(self, row: tuple[Any, ...]) -> InstalledExpert:
        data = dict(zip(_FIELDS, row, strict=True))
        label = f"registry entry {data['name']} {data['version']}"
        data |= {"signed": bool(data["signed"]), "manifest": Manifest.from_json(data["manifest"], source=label)}
        return InstalledExpert(path=self.root / data["name"] / data["version"], **data)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: take the write lock up front)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock across processes for moving folders in and out of `experts_dir`."""
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_if_empty(folder: Path) -> None:
    with suppress(OSError):
        folder.rmdir()
