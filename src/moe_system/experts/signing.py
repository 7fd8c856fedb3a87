"""Ed25519 keys and signatures for `.expert` packages.

A publisher's private key is an unencrypted PKCS8 PEM file (mode 0600); the public key is shared as the base64 of
its raw 32 bytes, which is what `integrity.public_key` and `settings.experts.trusted_publishers` hold. What gets
signed is `signing_message(...)`: one `path:sha256` line per file, sorted, so the signature covers every byte of
every file without depending on archive layout or member order.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from moe_system.errors import PackageError


def public_path_for(private_path: Path) -> Path:
    """Where the public key of `private_path` lives: the same name with `.pub` appended."""
    return private_path.with_name(private_path.name + ".pub")


def generate_keypair(private_path: Path) -> str:
    """Create a key pair: the private key at `private_path` (0600), the public key next to it as `<name>.pub`.
    Existing files are never overwritten. Returns the public key (base64)."""
    public_path = public_path_for(private_path)
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise PackageError(f"{path} already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(pem)
    public = public_key_b64(key)
    public_path.write_text(public + "\n", encoding="ascii")
    return public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an unencrypted PEM Ed25519 private key."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise PackageError(f"private key {path} not found (create one with `moe experts keygen -o {path}`)") from err
    except OSError as err:
        raise PackageError(f"cannot read private key {path}: {err.strerror}") from err
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise PackageError(f"{path} is not an unencrypted PEM private key") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise PackageError(f"{path} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 private key")
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """The base64 of the raw 32-byte public key."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def signing_message(file_hashes: Mapping[str, str]) -> bytes:
    """The bytes that are signed: sorted `path:sha256` lines, each ending in a newline."""
    return "".join(line + "\n" for line in sorted(f"{path}:{digest}" for path, digest in file_hashes.items())).encode()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """An Ed25519 signature of `message`, base64."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(public_key_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is a valid signature of `message` by the key; malformed input is simply False."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public.verify(base64.b64decode(signature_b64, validate=True), message)
    except (ValueError, TypeError, InvalidSignature):  # binascii.Error is a ValueError
        return False
    return True


def fingerprint(public_key_b64: str) -> str:
    """A short, human-comparable id of a public key: the first 16 hex digits of sha256 of its raw bytes."""
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
    except binascii.Error as err:
        raise PackageError("public key is not valid base64") from err
    return hashlib.sha256(raw).hexdigest()[:16]
