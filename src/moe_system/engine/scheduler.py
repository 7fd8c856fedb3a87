"""Continuous batching: one decode loop per engine, which requests from any thread join and leave.

A server gets requests at any moment. `Scheduler.submit` queues one and returns its `Ticket` at once; the
scheduler's thread admits waiting requests into the running `DecodeBatch` between two decode steps (up to
`max_batch` rows), so a new request shares the decode steps of those already running, with its own experts,
instead of waiting for them to finish. A ticket receives its events as they come; `Ticket.cancel` (the client
went away) frees the row at the next step. When `max_queue` requests already wait, `submit` refuses the next
one (`QueueFullError`, an HTTP 429 for the server) rather than letting latency grow without bound.

    scheduler = Scheduler(engine)
    ticket = scheduler.submit(prompt_ids, SamplingParams(max_new_tokens=64))
    text = "".join(event.delta for event in ticket)      # blocks until the request finishes
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from moe_system.engine.arena import TRIM_EVERY_S, map_large_blocks, trim_heap
from moe_system.engine.generate import Completion, DecodeBatch, Engine, Event
from moe_system.engine.lora import RowAdapters
from moe_system.engine.params import SamplingParams
from moe_system.errors import MoEError

Deliver = Callable[["Event | BaseException"], None]


class QueueFullError(MoEError):
    """Too many requests are waiting for a slot in the batch; try again later."""


@dataclass(eq=False)
class Ticket:
    """One submitted request: iterate it for its events (the last one carries the `Completion`), or give
    `submit` a `deliver` callback instead (an asyncio server hands events to its loop that way)."""

    prompt: list[int]
    params: SamplingParams
    adapters: RowAdapters
    deliver: Deliver | None = None
    completion: Completion | None = None
    arrived: float = field(default_factory=time.perf_counter)  # the time budget and TTFT count from here
    _events: queue.SimpleQueue[Event | BaseException] = field(default_factory=queue.SimpleQueue)
    _cancel: Callable[[Ticket], None] | None = None

    def cancel(self) -> None:
        """Stop generating for this request (at the next step); its last event has finish_reason "cancelled"."""
        if self._cancel is not None:
            self._cancel(self)

    def _put(self, item: Event | BaseException) -> None:
        if isinstance(item, Event) and item.completion is not None:
            self.completion = item.completion
        (self.deliver or self._events.put)(item)

    def __iter__(self) -> Iterator[Event]:
        while True:
            item = self._events.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item.completion is not None:
                return


class Scheduler:
    """Owns `engine`'s decode loop in a daemon thread; `submit` from any thread. See the module docstring."""

    def __init__(self, engine: Engine, max_batch: int = 32, max_queue: int = 64) -> None:
        if max_batch < 1 or max_queue < 0:
            raise ValueError("max_batch must be at least 1 and max_queue at least 0")
        self.engine = engine
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._waiting: deque[Ticket] = deque()
        self._cancelled: set[Ticket] = set()
        self._running: dict[int, Ticket] = {}  # row index in the batch -> its ticket
        self._batch = DecodeBatch(engine)
        self._wake = threading.Condition()
        self._closed = False
        map_large_blocks()  # a long-running batch allocates and frees large tensors of every size
        self._thread = threading.Thread(target=self._loop, name="moe-scheduler", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot (not yet decoding)."""
        return len(self._waiting)

    @property
    def active(self) -> int:
        """Requests decoding now."""
        return len(self._running)

    def submit(self, prompt: Sequence[int], params: SamplingParams, adapters: RowAdapters = (),
               deliver: Deliver | None = None) -> Ticket:
        """Queue a request; raises `QueueFullError` when `max_queue` requests already wait."""
        [ticket] = self.submit_rows(prompt, [params], adapters, deliver)
        return ticket

    def submit_rows(self, prompt: Sequence[int], rows: Sequence[SamplingParams], adapters: RowAdapters = (),
                    deliver: Deliver | None = None) -> list[Ticket]:
        """Queue one prompt decoded once per `rows` entry (best-of-N), all at once: the loop admits them together,
        so they share one prefill. Raises `QueueFullError` when they do not all fit in the queue."""
        tickets = [Ticket(list(prompt), params, tuple(adapters), deliver, _cancel=self._cancel) for params in rows]
        with self._wake:
            if self._closed:
                raise MoEError("the scheduler is closed")
            room = max(0, self.max_batch - len(self._running)) + self.max_queue - len(self._waiting)
            if len(tickets) > room:
                raise QueueFullError(f"{len(self._waiting)} requests are already waiting; try again shortly")
            self._waiting.extend(tickets)
            self._wake.notify()
        return tickets

    def close(self) -> None:
        """Stop the loop; requests still waiting or running get a `MoEError`."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    # ---- the loop (its own thread)

    def _cancel(self, ticket: Ticket) -> None:
        with self._wake:
            waiting = ticket in self._waiting
            if waiting:
                self._waiting.remove(ticket)
            else:  # running (or about to be): its row goes at the next step
                self._cancelled.add(ticket)
                self._wake.notify()
        if waiting:
            ticket._put(Event(-1, None, "", Completion([], "", "cancelled", len(ticket.prompt), 0.0, 0.0)))

    def _admit(self, arrivals: list[Ticket]) -> None:
        """Prefill the arrivals together (one forward pass); when that fails, one at a time, so that a bad request
        (too long, say) fails alone, with its own error."""
        if len(arrivals) > 1:
            try:
                rows = self._batch.admit([t.prompt for t in arrivals], [t.params for t in arrivals],
                                         [t.adapters for t in arrivals], [t.arrived for t in arrivals])
            except Exception:  # one of them is bad: each is admitted on its own below
                pass
            else:
                self._running.update(zip(rows, arrivals, strict=True))
                return
        for ticket in arrivals:
            try:
                [row] = self._batch.admit([ticket.prompt], ticket.params, [ticket.adapters], [ticket.arrived])
            except Exception as err:  # delivered to its own caller
                ticket._put(err)
                continue
            self._running[row] = ticket

    def _loop(self) -> None:
        next_trim = time.monotonic() + TRIM_EVERY_S
        while True:
            with self._wake:
                while not self._closed and not self._waiting and not self._running:
                    self._wake.wait()
                if self._closed:
                    break
                arrivals = [self._waiting.popleft()
                            for _ in range(min(len(self._waiting), self.max_batch - len(self._running)))]
                cancelled, self._cancelled = self._cancelled, set()
            self._admit(arrivals)
            for row, ticket in self._running.items():
                if ticket in cancelled:  # cancelled while running, or between leaving the queue and its admission
                    self._batch.cancel(row)
            try:
                events = self._batch.step()
            except Exception as err:  # the batch is lost: every running request gets the error
                self._fail(err)
                continue
            for event in events:
                ticket = self._running[event.row]
                if event.completion is not None:
                    del self._running[event.row]
                ticket._put(event)
            if time.monotonic() >= next_trim:  # the freed blocks of earlier batches go back to the OS
                trim_heap()
                next_trim = time.monotonic() + TRIM_EVERY_S
        self._fail(MoEError("the scheduler was closed"), waiting=True)

    def _fail(self, err: BaseException, waiting: bool = False) -> None:
        for ticket in self._running.values():
            ticket._put(err)
        self._running.clear()
        self._batch = DecodeBatch(self.engine)
        if waiting:
            with self._wake:
                tickets, self._waiting = list(self._waiting), deque()
            for ticket in tickets:
                ticket._put(err)
