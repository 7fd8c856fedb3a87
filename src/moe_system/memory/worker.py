"""The memory's worker process: `python -m moe_system.memory.worker CONFIG_JSON` runs `Compaction` for one database.

It runs at nice 10 with one torch thread, so `add_message` and generation keep their latency while hundreds of
thousands of tokens are compressed and embedded. It is a plain subprocess (not multiprocessing), so a caller's
script is never re-imported. Any byte on stdin wakes it; end of stdin (the parent closed the pipe or died) stops
it. All state is in the store: a killed worker loses at most the batch it was computing (nothing of it was
written), and the next worker picks the work up. A full disk does not stop it: nothing of the batch is written, and
it tries again every `IDLE_WAIT_S` until space returns. A file lock makes sure one worker serves a database at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path

from moe_system.durable import disk_full
from moe_system.memory.background import Compaction
from moe_system.memory.store import Budgets

IDLE_WAIT_S = 1.0
CHECKPOINT_EVERY = 8


def worker_main(argv: Sequence[str]) -> None:
    """The worker process: `python -m moe_system.memory.worker CONFIG_JSON`. Any byte on stdin wakes it;
    end of stdin (its parent closed the pipe or died) stops it."""
    import torch

    from moe_system.memory.stores import open_store
    from moe_system.memory.tokens import token_counter

    config = json.loads(argv[0])
    os.nice(10)
    torch.set_num_threads(1)
    Path(config["lock"]).parent.mkdir(parents=True, exist_ok=True)
    with open(config["lock"], "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another worker serves this database
        store = open_store(config["target"], checkpoints=True)
        embed = None
        if config["vectors"]:
            from moe_system.text.embeddings import encode

            embed = encode
        summarize = None
        if config.get("summarizer"):
            from moe_system.memory.summarizer import SummarizerRef

            summarize = SummarizerRef(**config["summarizer"]).build()
        work = Compaction(store, Budgets(**config["budgets"]), token_counter(config["tokenizer"]), embed, summarize)
        stdin = sys.stdin.fileno()
        try:
            steps, full = 0, False
            while True:
                try:
                    if work.step() or work.refine():  # new messages first; the LLM summarizer when nothing else is due
                        steps += 1
                        if steps % CHECKPOINT_EVERY == 0:
                            store.checkpoint()  # keep the WAL short while a long backlog is worked off
                        full = False
                        continue
                    if steps:  # once after each stretch of work, not every idle second
                        store.checkpoint()
                        steps = 0
                except Exception as err:
                    if not disk_full(err):
                        raise
                    if not full:
                        print(f"moe memory worker: the disk is full ({err}); waiting for space", file=sys.stderr)
                    full = True
                if select.select([stdin], [], [], IDLE_WAIT_S)[0] and not os.read(stdin, 4096):
                    return  # the parent is gone or closed us
        except Exception as err:  # the state stays consistent; the parent sees the exit code and this line
            print(f"moe memory worker: {type(err).__name__}: {err}", file=sys.stderr)
            raise SystemExit(3) from err
        finally:
            store.close()


if __name__ == "__main__":
    worker_main(sys.argv[1:])
