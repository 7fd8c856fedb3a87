"""Building and signing `.expert` packages (see `layout.py` for what a package holds).

    build_package(Path("adapter/"), Path("sql-1.0.0.expert"), name="sql", version="1.0.0", ...)
    sign_package(Path("sql-1.0.0.expert"), Path("publisher.key"))

A package is written as a deterministic tar.gz (sorted members, mtime 0, no owner names), atomically; signing
re-packs it with `integrity.public_key` in the manifest and `signature.sig` (see `verify.py`).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from moe_system.durable import write_atomic
from moe_system.errors import ManifestError, one_line
from moe_system.experts.layout import (
    ADAPTER_CONFIG_FILE,
    DEFAULT_MAX_BYTES,
    README_FILE,
    SIGNATURE_FILE,
    content_sha256,
    scratch_dir,
)
from moe_system.experts.manifest import MANIFEST_FILE, Integrity, Manifest, manifest_from_adapter_config
from moe_system.experts.signing import load_private_key, public_key_b64, sign, signing_message
from moe_system.experts.unpack import extract_package, scan_folder
from moe_system.experts.verify import check_payload, file_hashes, read_manifest


def _source_manifest(
    source: Path,
    files: Mapping[str, Path],
    label: str,
    *,
    name: str | None,
    version: str | None,
    base_name: str | None,
    base_sha256: str | None,
    description: str,
) -> Manifest:
    """The source folder's manifest with the given values applied, or one written from adapter_config.json."""
    if MANIFEST_FILE in files:
        manifest = read_manifest(source, label)
        data = manifest.model_dump()
        data.update({k: v for k, v in (("name", name), ("version", version), ("description", description)) if v})
        data["base_model"].update({k: v for k, v in (("name", base_name), ("sha256", base_sha256)) if v})
        return Manifest.from_dict(data, source=f"{label}: {MANIFEST_FILE}")
    given = {"name": name, "version": version, "base_name": base_name, "base_sha256": base_sha256}
    missing = [key for key, value in given.items() if not value]
    if missing:
        raise ManifestError(f"{label} has no {MANIFEST_FILE}, so {', '.join(missing)} must be given")
    if ADAPTER_CONFIG_FILE not in files:
        raise ManifestError(f"{label}: has neither {MANIFEST_FILE} nor {ADAPTER_CONFIG_FILE}")
    try:
        config = json.loads(files[ADAPTER_CONFIG_FILE].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ManifestError(f"{label}: {ADAPTER_CONFIG_FILE} is not valid JSON: {one_line(err)}") from err
    if not isinstance(config, dict):
        raise ManifestError(f"{label}: {ADAPTER_CONFIG_FILE} must hold a JSON object")
    return manifest_from_adapter_config(
        config,
        name=name or "",
        version=version or "",
        base_name=base_name or "",
        base_sha256=base_sha256 or "",
        description=description,
    )


def _readme(manifest: Manifest) -> str:
    """A README for a package whose source has none."""
    lines = [f"# {manifest.name} {manifest.version}", ""]
    if manifest.description:
        lines += [manifest.description, ""]
    lines += [
        f"- Kind: {manifest.kind}",
        f"- Base model: {manifest.base_model.name} (sha256 {manifest.base_model.sha256[:16]}…)",
        f"- Routing keywords: {', '.join(manifest.routing.keywords) or '(none)'}",
    ]
    evaluation = manifest.evaluation
    if evaluation.score is not None:
        base = f" (base model: {evaluation.base_score})" if evaluation.base_score is not None else ""
        lines.append(f"- Evaluation: {evaluation.task or 'score'} {evaluation.score}{base}")
    lines += [f"- License: {manifest.license}", ""]
    return "\n".join(lines)


def _write_archive(output: Path, members: Mapping[str, Path | bytes]) -> None:
    """Write a deterministic tar.gz atomically: sorted members, mtime 0, root-owned, 0644/0755, no user names."""
    folders = {str(p) for rel in members for p in PurePosixPath(rel).parents if str(p) != "."}

    def write(temp: Path) -> None:
        with (
            temp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for rel in sorted(folders | members.keys()):
                info = tarfile.TarInfo(rel)
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                if rel in folders:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    continue
                content = members[rel]
                info.mode = 0o644
                if isinstance(content, bytes):
                    info.size = len(content)
                    tar.addfile(info, io.BytesIO(content))
                else:
                    info.size = os.stat(content).st_size
                    with open(content, "rb") as handle:
                        tar.addfile(info, handle)

    write_atomic(output, write)


def build_package(
    source: Path,
    output: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    base_name: str | None = None,
    base_sha256: str | None = None,
    description: str = "",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Manifest:
    """Pack a PEFT adapter folder (or a folder in package layout) into an unsigned `.expert` archive."""
    label = str(source)
    files = scan_folder(source, max_bytes, label, own_source=True)
    manifest = _source_manifest(
        source,
        files,
        label,
        name=name,
        version=version,
        base_name=base_name,
        base_sha256=base_sha256,
        description=description,
    )
    payload: dict[str, Path | bytes] = {
        rel: path for rel, path in files.items() if rel not in {MANIFEST_FILE, SIGNATURE_FILE}
    }
    if README_FILE not in payload:
        payload[README_FILE] = _readme(manifest).encode("utf-8")
    hashes = {rel: content_sha256(content) for rel, content in sorted(payload.items())}
    manifest = manifest.model_copy(update={"integrity": Integrity(public_key=None, files=hashes)})
    check_payload(manifest, hashes, label)
    _write_archive(output, {**payload, MANIFEST_FILE: manifest.to_json().encode("utf-8")})
    return manifest


def sign_package(
    path: Path, private_key_path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, scratch: Path | None = None
) -> str:
    """Sign (or re-sign) a package archive in place; returns the signer's public key (base64).
    The archive is unpacked under `scratch` (the system temp folder when None)."""
    key = load_private_key(private_key_path)
    label = str(path)
    with scratch_dir("moe-sign-", scratch) as tmp:
        folder = extract_package(path, Path(tmp) / "package", max_bytes)
        manifest = read_manifest(folder, label)
        hashes = file_hashes(folder)
        check_payload(manifest, hashes, label)
        public = public_key_b64(key)
        integrity = manifest.integrity.model_copy(update={"public_key": public})
        text = manifest.model_copy(update={"integrity": integrity}).to_json().encode("utf-8")
        signature = sign(key, signing_message({**hashes, MANIFEST_FILE: content_sha256(text)}))
        members: dict[str, Path | bytes] = {rel: folder / rel for rel in hashes}
        members |= {MANIFEST_FILE: text, SIGNATURE_FILE: (signature + "\n").encode("ascii")}
        _write_archive(path, members)
    return public
