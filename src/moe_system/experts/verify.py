"""Verifying `.expert` packages: safety rules, layout, the hash of every file and (when signed) the Ed25519
signature over all of them, so any changed, added or removed byte breaks verification.

The signature covers `signing_message` of every file but signature.sig, the manifest included.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moe_system.errors import ManifestError, PackageError
from moe_system.experts.layout import (
    DEFAULT_MAX_BYTES,
    README_FILE,
    REQUIRED_FILES,
    SIGNATURE_FILE,
    content_sha256,
    scratch_dir,
)
from moe_system.experts.manifest import MANIFEST_FILE, Manifest
from moe_system.experts.signing import fingerprint, signing_message, verify
from moe_system.experts.unpack import check_folder, extract_package, walk


def file_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every regular file under `folder` by posix relative path, except manifest.json and signature.sig."""
    return {
        rel: content_sha256(path)
        for rel, path, st in sorted(walk(folder))
        if stat.S_ISREG(st.st_mode) and rel not in {MANIFEST_FILE, SIGNATURE_FILE}
    }


def read_manifest(folder: Path, label: str) -> Manifest:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise PackageError(f"{label}: missing required file '{MANIFEST_FILE}'")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{label}: {MANIFEST_FILE} is not UTF-8 text") from err
    return Manifest.from_json(text, source=f"{label}: {MANIFEST_FILE}")


def check_payload(manifest: Manifest, hashes: Mapping[str, str], label: str) -> None:
    """Required files present, and the payload exactly as `integrity.files` lists it."""
    required = [README_FILE, *REQUIRED_FILES.get(manifest.kind, ())]
    for name in required:
        if name not in hashes:
            raise PackageError(f"{label}: missing required file '{name}' (kind {manifest.kind})")
    listed = manifest.integrity.files
    unlisted = sorted(hashes.keys() - listed.keys())
    if unlisted:
        raise PackageError(f"{label}: file '{unlisted[0]}' is not listed in the manifest's integrity.files")
    missing = sorted(listed.keys() - hashes.keys())
    if missing:
        raise PackageError(f"{label}: file '{missing[0]}' listed in the manifest is missing")
    changed = sorted(rel for rel in hashes if hashes[rel] != listed[rel])
    if changed:
        raise PackageError(f"{label}: hash mismatch for '{changed[0]}' (it changed after packaging)")


@dataclass
class Verification:
    """The result of a successful verification."""

    manifest: Manifest
    signed: bool
    public_key: str | None
    fingerprint: str | None
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (for `--json`)."""
        m = self.manifest
        return {
            "name": m.name,
            "version": m.version,
            "kind": m.kind,
            "base_model": m.base_model.model_dump(mode="json"),
            "signed": self.signed,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "files": self.files,
            "manifest": m.model_dump(mode="json"),
        }


def _verify_checked(folder: Path, label: str) -> Verification:
    """Verify a folder that already passed the safety rules."""
    manifest = read_manifest(folder, label)
    hashes = file_hashes(folder)
    check_payload(manifest, hashes, label)
    public = manifest.integrity.public_key
    signature_path = folder / SIGNATURE_FILE
    signed = signature_path.is_file()
    if signed and public is None:
        raise PackageError(f"{label}: has {SIGNATURE_FILE} but the manifest has no integrity.public_key")
    if public is not None and not signed:
        raise PackageError(f"{label}: the manifest names a signing key but {SIGNATURE_FILE} is missing")
    files = {**hashes, MANIFEST_FILE: content_sha256(folder / MANIFEST_FILE)}
    key_id = fingerprint(public) if public is not None else None
    if public is not None:
        signature = signature_path.read_bytes().decode("ascii", errors="replace").strip()
        if not verify(public, signing_message(files), signature):
            raise PackageError(f"{label}: invalid signature for key {key_id}: the package was changed after signing")
        files[SIGNATURE_FILE] = content_sha256(signature_path)
    return Verification(manifest, signed, public, key_id, dict(sorted(files.items())))


def verify_folder(folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Verification:
    """Check an unpacked package: safety rules, layout, hashes and (when signed) the signature."""
    check_folder(folder, max_bytes)
    return _verify_checked(folder, str(folder))


def verify_package(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, scratch: Path | None = None
) -> Verification:
    """Verify a package archive (unpacked safely into a temporary folder under `scratch`, the system
    temp folder when None); a folder is verified in place."""
    if path.is_dir():
        return verify_folder(path, max_bytes)
    with scratch_dir("moe-verify-", scratch) as tmp:
        folder = extract_package(path, Path(tmp) / "package", max_bytes)
        return _verify_checked(folder, str(path))
