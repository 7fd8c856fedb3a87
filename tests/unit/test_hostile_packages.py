"""A corpus of hostile `.expert` packages, built here (no binary files in the repository), each refused by
`Registry.install` with one clear line, its staging folder gone, nothing written outside `MOE_HOME`, in bounded time
and memory: the bombs are refused before they are inflated.

    .venv/bin/python -m pytest -q tests/unit/test_hostile_packages.py

The single-rule cases (absolute paths, `..`, symlinks, hard links, devices, pickles) are in
`test_expert_package.py::UNSAFE` and run through the installer in `test_registry.py`; this file adds what takes size,
count, encoding or depth to attack.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from moe_system.config import Settings
from moe_system.errors import PackageError
from moe_system.experts.registry import STAGING, Registry

BASE = "ab" * 32
MB = 2**20
Part = bytes | tuple[int, bytes]  # raw bytes, or (count, chunk): the chunk repeated, streamed through gzip


def header(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, linkname: str = "",
           fmt: int = tarfile.GNU_FORMAT) -> bytes:
    """One tar header (with GNU long-name blocks when the name needs them), declaring `size` bytes of data."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode = kind, size, linkname, 0o644
    return info.tobuf(format=fmt, encoding="utf-8", errors="surrogateescape")


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> bytes:
    padding = -len(data) % tarfile.BLOCKSIZE
    return header(name, len(data), kind, linkname) + data + bytes(padding)


def write_package(path: Path, parts: list[Part]) -> Path:
    """A gzipped tar stream from `parts`, with its end-of-archive blocks; a (count, chunk) part never exists whole in
    memory, so a package may inflate to gigabytes while its file stays small."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as out:
        for part in [*parts, bytes(2 * tarfile.BLOCKSIZE)]:
            if isinstance(part, bytes):
                out.write(part)
            else:
                for _ in range(part[0]):
                    out.write(part[1])
    return path


README = member("README.md", b"# hostile\n")

# name -> (parts of the package, what the refusal says, experts.max_package_mb)
CORPUS: dict[str, tuple[Callable[[], list[Part]], str, int]] = {
    "tar bomb: members": (lambda: [README, *(member(f"examples/{i}.txt", b"x") for i in range(1200))],
                          "more than 1000 files and folders", 64),
    "tar bomb: total": (lambda: [README, *(member(f"examples/{i}.txt", bytes(400_000)) for i in range(4))],
                        "unpacked size passes the limit of 1.0 MiB", 1),
    "gzip bomb: one member": (lambda: [README, header("examples/zeros.txt", 512 * MB), (512, bytes(MB))],
                              "'examples/zeros.txt' is 512.0 MiB, over the limit of 1.0 MiB", 1),
    "gzip bomb: long-name header": (lambda: [header("././@LongLink", 512 * MB, tarfile.GNUTYPE_LONGNAME),
                                             (512, b"a" * MB)], "an archive header declares 512.0 MiB", 2048),
    "gzip bomb: pax header": (lambda: [header("././@PaxHeader", 512 * MB, tarfile.XHDTYPE, fmt=tarfile.USTAR_FORMAT),
                                       (512, b"0" * MB)], "an archive header declares 512.0 MiB", 2048),
    "huge declared size": (lambda: [README, header("adapter_model.safetensors", 2**40), b"tiny" + bytes(508)],
                           "is 1048576.0 MiB, over the limit", 2048),
    "duplicate members": (lambda: [README, member("adapter_config.json", b"{}"), member("adapter_config.json", b"[]")],
                          "'adapter_config.json' appears twice", 64),
    "non-UTF-8 name": (lambda: [README, member("examples/\udcff\udcfe.txt", b"x")],
                       "has a name that is not valid UTF-8", 64),
    "overlong name": (lambda: [README, member("examples/" + "n" * 300, b"x")],
                      "has a name longer than 255 bytes", 64),
    "deep nesting": (lambda: [README, member("examples/" + "d/" * 2000 + "x.txt", b"x")],
                     "is nested 2002 levels deep, over the limit of 16", 64),
    "symlink out, then a file through it": (
        lambda: [README, member("examples", kind=tarfile.SYMTYPE, linkname="/tmp"), member("examples/x.txt", b"x")],
        "member 'examples' is a symbolic link", 64),
    "hard link to a file outside": (lambda: [README, member("README2", kind=tarfile.LNKTYPE, linkname="/etc/passwd")],
                                    "is a hard link", 64),
    "block device": (lambda: [README, member("examples/sda", kind=tarfile.BLKTYPE)], "is a device file", 64),
    "dot-dot through a folder": (lambda: [README, member("examples/../../../../x.txt", b"x")],
                                 "leaves the package", 64),
    "absolute path": (lambda: [README, member("/tmp/moe-hostile.txt", b"x")], "is an absolute path", 64),
    "truncated member": (lambda: [README, header("examples/cut.txt", 100_000), b"only this"],
                         "not a valid .expert archive (tar.gz): unexpected end of data", 64),
}


class PeakRss:
    """The peak resident memory of this process while the block runs, sampled every 5 ms (ru_maxrss would keep an
    earlier test's peak)."""

    def __enter__(self) -> PeakRss:
        self.process, self.start = psutil.Process(), psutil.Process().memory_info().rss
        self.peak, self.done = self.start, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / MB


def files_under(root: Path, skip: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if skip not in (p, *p.parents)}


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "moe_home"


@pytest.mark.parametrize("case", list(CORPUS))
def test_a_hostile_package_is_refused_quickly_in_bounded_memory_and_leaves_nothing(
        tmp_path: Path, home: Path, case: str) -> None:
    parts, expected, max_mb = CORPUS[case]
    (tmp_path / "incoming").mkdir()
    package = write_package(tmp_path / "incoming" / "hostile.expert", parts())
    assert package.stat().st_size < 2 * MB  # the bombs are small files
    outside = tmp_path.parent / "moe-hostile.txt"
    with Registry(Settings(home=home, experts={"max_package_mb": max_mb})) as registry:
        before = files_under(tmp_path, skip=home)
        started = time.perf_counter()
        with PeakRss() as rss, pytest.raises(PackageError) as refused:
            registry.install(package, base_sha256=BASE, allow_unsigned=True)
        elapsed = time.perf_counter() - started
        assert registry.list() == []
    message = str(refused.value)
    assert expected in message and "\n" not in message and len(message) < 600, message
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert rss.growth_mb < 100, f"memory grew {rss.growth_mb:.0f} MB: the package was inflated"
    assert files_under(tmp_path, skip=home) == before and not outside.exists()
    staging = home / "experts" / STAGING
    assert not staging.exists() or list(staging.iterdir()) == []  # the staging folder was cleaned up
    leftovers = [p for p in (home / "experts").rglob("*") if p.is_file() and not p.name.startswith("registry.db")]
    assert [p.name for p in leftovers if p.name != ".lock"] == []


def test_the_inflation_bound_lets_a_package_at_the_limit_through(tmp_path: Path) -> None:
    """The bomb guards refuse only what passes the limits: a member of 1 MiB (reads up to one chunk at a time) with a
    long name in a pax header unpacks."""
    from moe_system.experts.unpack import extract_package

    name = "examples/" + "n" * 200 + ".txt"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in (("README.md", b"# ok\n"), (name, bytes(MB))):
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    package = tmp_path / "fine.expert"
    package.write_bytes(gzip.compress(buffer.getvalue()))
    folder = extract_package(package, tmp_path / "out", 2 * MB)
    assert (folder / name).stat().st_size == MB
