"""Shared pieces of the benchmarks: prompts (English and Russian), a median timer, percentiles, memory readings, the
CPU's name and the left-padded batches a Hugging Face peer generates from."""

from __future__ import annotations

import platform
import resource
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil
import torch

PROMPTS = [
    "Write a short story about a robot who learns to paint pictures of the sea at night.",
    "Explain in simple words why the sky looks blue during the day and red at sunset.",
    "Give me three practical tips for learning a new programming language quickly and well.",
    "Напиши короткое стихотворение о зимнем лесе и о тишине, которая там царит.",
    "What are the main differences between a list and a tuple in Python? Be brief.",
    "Describe how a bicycle works, from the pedals to the rear wheel, in a few sentences.",
    "Suggest a healthy breakfast menu for a busy weekday morning with a short explanation.",
    "Расскажи, почему важно высыпаться, и дай два совета, как лучше спать по ночам.",
]


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    """The CPU's model name, as `lscpu` shows it ("model name" of /proc/cpuinfo; `platform.processor()` elsewhere),
    for every published number to name the machine that measured it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-quantile (0..1) of `values`, linearly interpolated between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def left_padded(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id rows as one left-padded batch for a Hugging Face `generate`: (input_ids, attention_mask),
    both [batch, longest]."""
    longest = max(len(row) for row in rows)
    ids = torch.tensor([[pad] * (longest - len(row)) + list(row) for row in rows])
    mask = torch.tensor([[0] * (longest - len(row)) + [1] * len(row) for row in rows])
    return ids, mask


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a child process to listen on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
