"""`moe memory ...`: look into and prune the three-level conversation memory (`MOE_HOME/memory`).

    moe memory list [--user U] [--json]          # conversations
    moe memory stats [ID] [--json]               # tokens per tier (all conversations without ID)
    moe memory show ID [--json]                  # facts, long-term, obsolete and current tiers
    moe memory search ID "where do I live?"      # the context a request would get (--max-tokens N)
    moe memory forget --user U | --conversation ID
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from moe_system.cli.common import err, out, print_json
from moe_system.errors import InvalidRequestError

app = typer.Typer(help="Inspect, search and forget what conversations remember.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON document")]
TIERS = ("current_tokens", "obsolete_tokens", "longterm_tokens")


@contextmanager
def _memory() -> Iterator[Any]:
    """The configured memory, without a background worker (these commands only read or delete; the tokenizer loads
    only for `search`, which counts a context's tokens)."""
    from moe_system.config import load_settings
    from moe_system.memory import ThreeLevelMemory

    settings = load_settings()
    config = settings.memory
    memory = ThreeLevelMemory(config.database_url or settings.home / "memory", config.current_tokens,
                              config.obsolete_tokens, config.longterm_tokens,
                              background=False, settings=settings)
    try:
        yield memory
    finally:
        memory.close()


def _known(memory: Any, conversation_id: str) -> None:
    if memory.store.conversation(conversation_id) is None:
        raise InvalidRequestError(f"no conversation {conversation_id!r} in memory (`moe memory list` shows them)")


@app.command("list")
def list_conversations(
    user: Annotated[str | None, typer.Option("--user", help="only this user's conversations")] = None,
    json_output: JsonOpt = False,
) -> None:
    """The remembered conversations."""
    with _memory() as memory:
        rows = memory.conversations(user)
    if json_output:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} conversations")
    for column in ("conversation", "user", "turns"):
        table.add_column(column)
    for row in rows:
        table.add_row(escape(row["conversation_id"]), escape(row["user_id"] or "-"), str(row["messages"]))
    out.print(table)


@app.command("stats")
def stats(
    conversation_id: Annotated[str | None, typer.Argument(help="one conversation (default: all)")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Tokens each tier holds (and its budget), turns and facts, per conversation."""
    with _memory() as memory:
        if conversation_id is not None:
            _known(memory, conversation_id)
        ids = [conversation_id] if conversation_id else [row["conversation_id"] for row in memory.conversations()]
        rows = [memory.stats(cid) for cid in ids]
    if json_output:
        print_json(rows[0] if conversation_id else rows)
        return
    table = Table(title="memory")
    for column in ("conversation", "user", "turns", "current", "obsolete", "long-term", "facts"):
        table.add_column(column, justify="right")
    for row in rows:
        budgets = row["budgets"]
        table.add_row(escape(row["conversation_id"]), escape(row["user_id"] or "-"), str(row["messages"]),
                      *[f"{row[tier]}/{budgets[tier]}" for tier in TIERS], str(row["facts"]))
    out.print(table)


@app.command("show")
def show(
    conversation_id: Annotated[str, typer.Argument(help="the conversation")],
    json_output: JsonOpt = False,
) -> None:
    """Everything a conversation remembers, tier by tier."""
    with _memory() as memory:
        _known(memory, conversation_id)
        data = memory.show(conversation_id)
    if json_output:
        print_json(data)
        return
    out.print(f"[bold]facts[/] ({len(data['facts'])})")
    for fact in data["facts"]:
        out.print(f"  [#{fact['seq']}] {escape(fact['text'])}", markup=True)
    for tier in ("longterm", "obsolete"):
        out.print(f"[bold]{tier}[/] ({len(data[tier])} pieces)")
        for piece in data[tier]:
            out.print(f"  turns {piece['turns'][0]}–{piece['turns'][1]}: {escape(piece['text'][:300])}")
    out.print(f"[bold]current[/] ({len(data['current'])} messages)")
    for message in data["current"]:
        out.print(f"  [#{message['seq']} {message['role']}] {escape(message['text'])}")


@app.command("search")
def search(
    conversation_id: Annotated[str, typer.Argument(help="the conversation")],
    query: Annotated[str, typer.Argument(help="what to look for (as a request to the model would)")],
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=64, max=1_000_000,
                                            help="token budget of the context")] = 1000,
    json_output: JsonOpt = False,
) -> None:
    """The context `build_context` assembles for QUERY: facts, relevant older material, recent messages."""
    with _memory() as memory:
        _known(memory, conversation_id)
        context = memory.build_context(conversation_id, query, max_tokens)
    if json_output:
        print_json(context.to_dict())
        return
    out.print(context.text, markup=False)
    err.print(f"[dim]{context.token_count} of {max_tokens} tokens[/]")


@app.command("forget")
def forget(
    user: Annotated[str | None, typer.Option("--user", help="delete everything of this user")] = None,
    conversation_id: Annotated[str | None, typer.Option("--conversation", help="delete one conversation")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Delete a user's conversations, messages, summaries and facts (or one conversation), for good."""
    if (user is None) == (conversation_id is None):
        raise InvalidRequestError("give exactly one of --user and --conversation")
    with _memory() as memory:
        if user is not None:
            deleted = memory.forget_user(user)
            left = memory.store.rows_of_user(user)
        else:
            _known(memory, conversation_id or "")
            deleted = memory.forget_conversation(conversation_id or "")
            left = 0
    if json_output:
        print_json({"user": user, "conversation_id": conversation_id, "deleted_rows": deleted, "rows_left": left})
        return
    out.print(f"deleted {deleted} rows" + (f" of user {escape(user)}" if user else ""))
