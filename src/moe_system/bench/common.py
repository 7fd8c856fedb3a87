"""Shared pieces of the benchmarks: prompts (English and Russian), a median timer, memory readings."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import psutil

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
