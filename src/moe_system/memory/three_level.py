"""`ThreeLevelMemory`: per-conversation memory in three tiers, and the context built from it for each request.

    current   the latest messages, verbatim                       (default budget 250k tokens)
    obsolete  older messages, compressed extractively into chunks  (250k)
    long-term facts about the user and short summaries of chunks  (250k)

`add_message` stores and commits a message (about a millisecond); when the current tier overflows, its oldest
messages leave it in the same transaction, and a background worker process compresses them into the obsolete
tier (which in turn overflows into long-term, which drops its oldest summaries). The worker also extracts facts
from every user message as it arrives, so a fact is known long before its message leaves the current tier.
`build_context(conversation_id, query, max_tokens)` retrieves facts, chunks and messages relevant to the query
(BM25 + MiniLM vectors, fused by rank) and assembles them with the recent messages (see `context.py`).

    mem = ThreeLevelMemory(path)                      # a file or folder (SQLite) or a postgresql:// URL
    mem.add_message("c1", "user", "I live in Oslo.")  # user_id="u1" scopes facts to a user
    mem.build_context("c1", "Where do I live?", 4000).text
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moe_system.data.lexicon import concept_stems
from moe_system.errors import InvalidRequestError, MoEError
from moe_system.memory.background import Compaction
from moe_system.memory.context import Context, Line, assemble
from moe_system.memory.documents import PASSAGE_TOKENS, Passage, passages
from moe_system.memory.facts import FIRST_PERSON, THIRD_PARTY
from moe_system.memory.retrieval import IndexCache, VectorIndex, fuse, query_stems, snippet, to_blob
from moe_system.memory.store import Budgets, FactRow, Kind, NewChunk
from moe_system.memory.stores import is_postgres, open_store, sqlite_path
from moe_system.memory.summarizer import SummarizerRef
from moe_system.memory.tokens import TokenCounter, base_tokenizer_dir, token_counter
from moe_system.text.words import stems as text_stems

if TYPE_CHECKING:
    from moe_system.config import Settings

ROLES = ("user", "assistant", "system")
CANDIDATES = 40  # hits per list (lexical, vectors) of facts and chunks
OTHERS_RANK = 10_000  # added to the rank of a line about someone else, for a question about the asker
SNIPPETS = 40  # chunks and messages cut into snippets, each (a 4,000-token context shows about 40)
FACT_POOL = 100  # newest facts in force offered beyond the retrieved ones
RECENT_LIMIT = 64  # messages considered for the recent section
MAX_MESSAGE_CHARS = 1_000_000
FLUSH_POLL_S = 0.02
VECTOR_KINDS: tuple[Kind, ...] = ("fact", "chunk")  # what has embeddings (messages are found lexically)
INDEX_CONVERSATIONS = 64  # conversations whose vector indexes stay in memory (`memory.index_cache_conversations`)


class ThreeLevelMemory:
    """Three-tier memory over a store; see the module docstring. Thread-safe; one instance per process."""

    def __init__(
        self,
        path: str | Path | None = None,
        current_tokens: int = 250_000,
        obsolete_tokens: int = 250_000,
        longterm_tokens: int = 250_000,
        *,
        tokenizer: str | Path | None = None,
        vectors: bool = True,
        background: bool = True,
        summarizer: SummarizerRef | None = None,
        settings: Settings | None = None,
        index_conversations: int | None = None,
    ) -> None:
        """`path`: an SQLite file or folder (default `MOE_HOME/memory`) or a `postgresql://` URL.
        `tokenizer`: a Hugging Face tokenizer folder (default: the configured base model's).
        `vectors=False` keeps retrieval lexical only (no MiniLM); `background=False` compresses in `flush()`
        in this process instead of a worker process. `summarizer`: how to build the model that rewrites the
        long-term summaries when the worker is idle (summarizer.py; the SDK's `client.summarizer_ref`); `flush`
        does not wait for it unless `background=False`. `settings`: for the default `path` and tokenizer (default:
        the loaded settings). `index_conversations`: how many conversations keep their vector indexes in memory,
        least recently used evicted first (default `settings.memory.index_cache_conversations`, else 64)."""
        for name, value in (("current_tokens", current_tokens), ("obsolete_tokens", obsolete_tokens),
                            ("longterm_tokens", longterm_tokens)):
            if not isinstance(value, int) or value < 100:
                raise InvalidRequestError(f"{name} must be an integer of at least 100, not {value!r}")
        if settings is None and path is None:
            from moe_system.config import load_settings

            settings = load_settings()
        if path is None:
            assert settings is not None
            path = settings.memory.database_url or settings.home / "memory"
        self.target = str(path) if is_postgres(str(path)) else str(sqlite_path(path))
        self.budgets = Budgets(current_tokens, obsolete_tokens, longterm_tokens)
        self._tokenizer = tokenizer
        self.vectors = vectors
        self.store = open_store(self.target)
        if index_conversations is None:
            index_conversations = settings.memory.index_cache_conversations if settings else INDEX_CONVERSATIONS
        self._indexes = IndexCache(index_conversations)
        self._lock = threading.Lock()
        self._background = background
        self._settings = settings
        self._worker: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._summarizer = summarizer

    @cached_property
    def _compaction(self) -> Compaction:
        """The compression run in this process (`background=False`), built on first need."""
        return Compaction(self.store, self.budgets, self.count_tokens, self._embed if self.vectors else None,
                          None if self._summarizer is None else self._summarizer.build())

    @cached_property
    def tokenizer(self) -> str:
        """The folder of the tokenizer that counts tokens (the configured base model's unless given)."""
        return str(self._tokenizer) if self._tokenizer is not None else base_tokenizer_dir(self._settings)

    @cached_property
    def count_tokens(self) -> TokenCounter:
        """The tokenizer's counter, loaded on first need (about 3 s of imports): listing, showing or forgetting
        conversations counts nothing."""
        return token_counter(self.tokenizer)

    # ---- writing

    def add_message(self, conversation_id: str, role: str, text: str, user_id: str | None = None) -> int:
        """Store one message (committed on return) and return its turn number in the conversation."""
        _check_id("conversation_id", conversation_id)
        if role not in ROLES:
            raise InvalidRequestError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequestError("a message needs non-empty text")
        if "\x00" in text:
            raise InvalidRequestError("a message may not contain NUL characters")
        if len(text) > MAX_MESSAGE_CHARS:
            raise InvalidRequestError(f"a message may have at most {MAX_MESSAGE_CHARS} characters")
        if user_id is not None:
            _check_id("user_id", user_id)
        row = self.store.add_message(conversation_id, user_id, role, text, self.count_tokens(text),
                                     self.budgets.current)
        self._wake()
        return row.seq

    def resume(self) -> None:
        """Start the worker if the store holds work a stopped process left undone (messages to index or compress),
        so it does not wait for the next message (a server calls this at start)."""
        if self._background and (self.store.has_unindexed() or self.store.pending(self.budgets)):
            self._wake()

    def _wake(self) -> None:
        """Start the worker process if it is not running, and tell it there is work."""
        if not self._background:
            return
        with self._lock:
            if self._worker is None or self._worker.poll() is not None:
                config = {"target": self.target, "lock": self._lock_path(), "tokenizer": self.tokenizer,
                          "vectors": self.vectors, "budgets": dataclasses.asdict(self.budgets)}
                if self._summarizer is not None:
                    config |= {"summarizer": self._summarizer.to_json()}
                self._worker = subprocess.Popen(
                    [sys.executable, "-m", "moe_system.memory.worker", json.dumps(config)],
                    stdin=subprocess.PIPE, start_new_session=True)
            try:
                assert self._worker.stdin is not None
                self._worker.stdin.write(b"w")
                self._worker.stdin.flush()
            except BrokenPipeError:
                pass  # it just died; flush() reports its exit code

    def _lock_path(self) -> str:
        if is_postgres(self.target):
            from moe_system.config import load_settings

            return str((self._settings or load_settings()).home / "memory" / "postgres-worker.lock")
        return self.target + ".worker-lock"

    def flush(self, timeout: float | None = None) -> None:
        """Wait until the background work (indexing, compression) is done."""
        if not self._background:
            self._compaction.run_until_idle()
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.store.has_unindexed() or self.store.pending(self.budgets):
            code = self._worker.poll() if self._worker is not None else None
            if code not in (None, 0):
                raise MoEError(f"the memory worker failed (exit code {code}); see its message above")
            self._wake()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("memory compression did not finish in time")
            time.sleep(FLUSH_POLL_S)

    def close(self) -> None:
        """Stop the worker (its unfinished work stays queued in the store) and close the store."""
        with self._lock:
            if self._worker is not None:
                assert self._worker.stdin is not None
                self._worker.stdin.close()  # end of input: the worker finishes its batch and exits
                try:
                    self._worker.wait(30)
                except subprocess.TimeoutExpired:
                    self._worker.kill()
                    self._worker.wait()
                self._worker = None
            if self._executor is not None:
                self._executor.shutdown()
                self._executor = None
        self.store.close()

    def __enter__(self) -> ThreeLevelMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading

    def stats(self, conversation_id: str) -> dict[str, Any]:
        """What each tier holds now, in tokens (never above its budget once `flush` returned), and more."""
        row = self.store.conversation(conversation_id)
        held = {"current_tokens": 0, "moving_tokens": 0, "obsolete_tokens": 0, "longterm_tokens": 0, "messages": 0}
        if row is not None:
            held = {"current_tokens": row.current_tokens, "moving_tokens": row.moving_tokens,
                    "obsolete_tokens": row.obsolete_tokens, "longterm_tokens": row.longterm_tokens,
                    "messages": row.messages}
        return {"conversation_id": conversation_id, "user_id": row.user_id if row else None, **held,
                "facts": len(self.store.live_facts(conversation_id)) if row else 0,
                "budgets": {"current_tokens": self.budgets.current, "obsolete_tokens": self.budgets.obsolete,
                            "longterm_tokens": self.budgets.longterm}}

    def build_context(self, conversation_id: str, query: str, max_tokens: int = 4000) -> Context:
        """Facts, relevant older material and recent messages for `query`, within `max_tokens` tokens."""
        _check_id("conversation_id", conversation_id)
        if not isinstance(max_tokens, int) or max_tokens < 64:
            raise InvalidRequestError(f"max_tokens must be an integer of at least 64, not {max_tokens!r}")
        if self.store.conversation(conversation_id) is None:
            return Context("", 0, [])
        stems = query_stems(query)
        # the query's embedding (~10 ms of MiniLM in ONNX Runtime, GIL released) is computed in a thread while the
        # lexical part of the work runs here; only the vector ranking and the assembly wait for it
        pending = self._embedder().submit(self._embed, [query]) if self.vectors and query.strip() else None
        limits: dict[Kind, int] = {"fact": CANDIDATES, "chunk": CANDIDATES, "message": SNIPPETS}
        lexical = {kind: self.store.search(conversation_id, kind, stems, limit) for kind, limit in limits.items()}
        recent = self.store.recent_messages(conversation_id, RECENT_LIMIT)
        pool = self.store.live_facts(conversation_id, FACT_POOL)
        texts = {("message", row.id): (f"[#{row.seq} {row.role}] {row.text}", row.tokens, row.seq)
                 for row in self.store.messages(lexical["message"])}
        texts |= {("chunk", row.id): (row.text, row.tokens, row.first_seq)
                  for row in self.store.chunks(lexical["chunk"][:SNIPPETS])}
        snippets = {item: snippet(text, stems) for item, (text, _, _) in texts.items()}
        ranked = dict(lexical)
        if pending is not None:
            # pgvector ranks in the database; otherwise the indexes are held here (the same objects for the refresh
            # and the ranking, even if another thread evicts the conversation from the cache in between)
            indexes: dict[Kind, VectorIndex] = {} if self.store.ranks_vectors else {
                kind: self._index(conversation_id, kind) for kind in VECTOR_KINDS}
            for index in indexes.values():
                index.refresh(self.store, conversation_id)
            vector = pending.result()[0]
            for kind in VECTOR_KINDS:
                nearest = indexes[kind].nearest(vector, CANDIDATES) if indexes else \
                    self.store.nearest(conversation_id, kind, vector, CANDIDATES)
                ranked[kind] = [item for item, _ in fuse(lexical[kind], nearest)]
            extra = [item for item in ranked["chunk"][:SNIPPETS] if ("chunk", item) not in texts]
            for row in self.store.chunks(extra):
                texts[("chunk", row.id)] = (row.text, row.tokens, row.first_seq)
                snippets[("chunk", row.id)] = snippet(row.text, stems)
        ranks = {(kind, item): rank for kind in ("chunk", "message") for rank, item in enumerate(ranked[kind])}
        older = [_snippet_line(snippets[item], text, tokens, seq, ranks[item])
                 for item, (text, tokens, seq) in texts.items() if ranks.get(item, SNIPPETS) < SNIPPETS]
        facts = self._fact_lines(ranked["fact"], pool)
        recent_lines = [Line(f"[#{row.seq} {row.role}] {row.text}", row.tokens, row.seq, 0) for row in recent]
        if FIRST_PERSON.search(query):  # a question about the asker: what is said of other people ranks last
            asked = _asked_about(query)  # "my manager" asks about one
            retrieved = [line for line in facts if line.rank < OTHERS_RANK]  # the pool's other facts rank last anyway
            facts = _about_others_last(retrieved, asked) + facts[len(retrieved):]
            older = _about_others_last(older, asked)
        return assemble(facts, older, recent_lines, max_tokens, self.count_tokens)

    def _fact_lines(self, ranked: list[int], pool: list[FactRow]) -> list[Line]:
        """The retrieved facts by rank, then the other facts in force (`pool`), newest first, for any room left."""
        by_id = {row.id: row for row in pool}
        by_id |= {row.id: row for row in self.store.facts([item for item in ranked if item not in by_id])}
        lines = [Line(f"- [#{by_id[item].seq}] {by_id[item].text}", by_id[item].tokens, by_id[item].seq, rank)
                 for rank, item in enumerate(ranked) if item in by_id]
        chosen = set(ranked)
        return lines + [Line(f"- [#{row.seq}] {row.text}", row.tokens, row.seq, OTHERS_RANK * 2 + position)
                        for position, row in enumerate(row for row in reversed(pool) if row.id not in chosen)]

    def _index(self, conversation_id: str, kind: Kind) -> VectorIndex:
        return self._indexes.get(conversation_id, kind)

    def _embedder(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                # one thread there (torch's setting is per thread, and the ONNX session, when made there, takes
                # it): a short query is no faster on two, and the other core stays with the caller's own work
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="moe-memory-embed",
                                                    initializer=_one_torch_thread)
            return self._executor

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        from moe_system.text.embeddings import encode

        return encode(texts)

    # ---- documents

    def add_document(self, conversation_id: str, text: str, user_id: str | None = None) -> int:
        """Keep `text` (a document) as passages of `conversation_id`'s long-term tier, indexed by stems and vectors
        like the rest of the memory, committed on return; the number of passages. A conversation per document keeps
        them apart: `forget_conversation` deletes one, `search_passages` looks in any set of them."""
        _check_id("conversation_id", conversation_id)
        pieces = passages(text, PASSAGE_TOKENS, self.count_tokens)
        if not pieces:
            raise InvalidRequestError("the document has no text")
        vectors = [to_blob(vector) for vector in self._embed(pieces)] if self.vectors else [None] * len(pieces)
        self.store.add_chunks(conversation_id, user_id, [
            NewChunk(piece, " ".join(text_stems(piece)), self.count_tokens(piece), number, number, vector)
            for number, (piece, vector) in enumerate(zip(pieces, vectors, strict=True), start=1)])
        return len(pieces)

    def search_passages(self, conversation_ids: Sequence[str], query: str, limit: int = 3) -> list[Passage]:
        """The `limit` passages of these conversations (documents) that answer `query` best: those that share a
        content word with it (BM25 over stems), ranked with the vectors' nearest (reciprocal rank fusion) and
        merged across the conversations by that score. Empty when no passage shares a word with the query: a
        question about something else is not answered from a document."""
        stems = query_stems(query)
        if not stems:
            return []
        vector = self._embed([query])[0] if self.vectors else None
        found: list[Passage] = []
        for conversation_id in conversation_ids:
            lexical = self.store.search(conversation_id, "chunk", stems, CANDIDATES)
            if not lexical:
                continue
            nearest: list[int] = []
            if vector is not None and self.store.ranks_vectors:
                nearest = self.store.nearest(conversation_id, "chunk", vector, CANDIDATES)
            elif vector is not None:
                index = self._index(conversation_id, "chunk")
                index.refresh(self.store, conversation_id)
                nearest = index.nearest(vector, CANDIDATES)
            ranked = fuse(lexical, nearest)[:limit]
            texts = {row.id: row.text for row in self.store.chunks([item for item, _ in ranked])}
            found += [Passage(conversation_id, texts[item], score) for item, score in ranked if item in texts]
        return sorted(found, key=lambda passage: -passage.score)[:limit]

    # ---- browsing and forgetting

    def conversations(self, user_id: str | None = None) -> list[dict[str, Any]]:
        return [{"conversation_id": row.id, "user_id": row.user_id, "messages": row.messages,
                 "created": row.created} for row in self.store.conversations(user_id)]

    def show(self, conversation_id: str) -> dict[str, Any]:
        """Everything the memory holds for a conversation, tier by tier."""
        row = self.store.conversation(conversation_id)
        if row is None:
            raise InvalidRequestError(f"no conversation {conversation_id!r} in memory")
        return {
            "conversation_id": row.id, "user_id": row.user_id,
            "facts": [{"seq": f.seq, "key": f.key, "value": f.value, "text": f.text}
                      for f in self.store.live_facts(conversation_id)],
            "longterm": [{"turns": [c.first_seq, c.last_seq], "text": c.text}
                         for c in self.store.oldest_chunks(conversation_id, "longterm", 1_000_000)],
            "obsolete": [{"turns": [c.first_seq, c.last_seq], "text": c.text}
                         for c in self.store.oldest_chunks(conversation_id, "obsolete", 1_000_000)],
            "current": [{"seq": m.seq, "role": m.role, "text": m.text}
                        for m in self.store.recent_messages(conversation_id, 1_000_000)],
        }

    def forget_conversation(self, conversation_id: str) -> int:
        self._drop_indexes(conversation_id)
        return self.store.forget_conversation(conversation_id)

    def forget_user(self, user_id: str) -> int:
        """Delete every conversation, message, chunk and fact of a user; returns the rows deleted."""
        _check_id("user_id", user_id)
        for row in self.store.conversations(user_id):
            self._drop_indexes(row.id)
        return self.store.forget_user(user_id)

    def _drop_indexes(self, conversation_id: str) -> None:
        self._indexes.drop(conversation_id)


def _about_others_last(lines: list[Line], asked: frozenset[str]) -> list[Line]:
    """The lines with their ranks pushed behind every line that names no other person (`THIRD_PARTY`) than the
    ones the question itself names (`asked`)."""
    return [replace(line, rank=line.rank + OTHERS_RANK) if _others_named(line.text) - asked else line
            for line in lines]


@lru_cache(maxsize=16384)
def _others_named(text: str) -> frozenset[str]:
    """The stems of the other people a line names (`THIRD_PARTY`); cached, as the same facts come back often."""
    return frozenset(text_stems(" ".join(THIRD_PARTY.findall(text))))


def _asked_about(query: str) -> frozenset[str]:
    """The people a question names, with every word of their concepts (data/lexicon/concepts.yaml), so a line
    naming "начальник" is no one else's for "Как зовут моего руководителя?"."""
    return _others_named(query) | frozenset(concept_stems(text_stems(query)))


def _snippet_line(cut: str, text: str, tokens: int, seq: int, rank: int) -> Line:
    """A retrieved text reduced to its best sentences (`cut`), its tokens estimated from the text's stored count
    (10% to spare: `assemble` counts the final context exactly and drops lines if the estimates fell short)."""
    return Line(cut, int(tokens * len(cut) / max(1, len(text)) * 1.1) + 1, seq, rank)


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or "\x00" in value:
        raise InvalidRequestError(f"{name} must be a non-empty string of at most 200 characters")
