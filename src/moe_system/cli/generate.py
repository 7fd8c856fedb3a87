"""`moe generate` (one answer) and `moe chat` (interactive REPL with streaming)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from moe_system.cli.common import err, make_client, out, print_json
from moe_system.experts.spec import parse_expert_spec

REASON_SHOWN = 90  # characters of the routing reason in the chat footer

ExpertOpt = Annotated[
    str, typer.Option("--expert", "-e", help="auto | none | NAME[@VERSION] | A,B | A=0.7,B=0.3 | a JSON object")
]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-tokens", "-n", min=1, help="answer length limit")]
TemperatureOpt = Annotated[float | None, typer.Option("--temperature", "-t", min=0.0, help="0 = greedy")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="makes sampling reproducible")]
TopPOpt = Annotated[float | None, typer.Option("--top-p", min=0.0, max=1.0)]
TopKOpt = Annotated[int | None, typer.Option("--top-k", min=0)]
StopOpt = Annotated[list[str] | None, typer.Option("--stop", help="stop string (repeatable)")]


def generate(
    prompt: Annotated[str, typer.Argument(help="the request text")],
    expert: ExpertOpt = "auto",
    max_tokens: MaxTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    top_p: TopPOpt = None,
    top_k: TopKOpt = None,
    stop: StopOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Answer one prompt. Streams the text, or prints JSON with text, expert, routing, usage, timings."""
    client = make_client()
    options: dict[str, Any] = {"top_p": top_p, "top_k": top_k, "stop": stop}
    stream = client.stream_chat(
        [{"role": "user", "content": prompt}], parse_expert_spec(expert), max_tokens, temperature, seed, **options
    )
    if json_output:
        for _ in stream:
            pass
        print_json(_contract(stream.response))
        return
    for delta in stream:
        out.print(delta, end="", markup=False)
    out.print()
    response = stream.response
    err.print(f"[dim]{escape(_footer(response))}[/]")


def chat(
    expert: ExpertOpt = "auto",
    max_tokens: MaxTokensOpt = None,
    temperature: TemperatureOpt = None,
    seed: SeedOpt = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="answer one message and exit")] = None,
    conversation_id: Annotated[str | None, typer.Option(
        "--conversation", "-c", help="go on with this remembered conversation (new id when not given)")] = None,
    user: Annotated[str | None, typer.Option("--user", help="whose facts the memory keeps (default: none)")] = None,
) -> None:
    """Talk to the model; every turn is remembered (`moe memory ...`). Commands: /exit, /reset, /expert NAME
    (or auto | none), /help."""
    client = make_client()
    try:
        _chat(client, client.start_conversation(user, conversation_id, parse_expert_spec(expert)),
              prompt, max_tokens, temperature, seed)
    finally:
        client.close()


def _chat(client: Any, conversation: Any, prompt: str | None, max_tokens: int | None, temperature: float | None,
          seed: int | None) -> None:
    interactive = prompt is None and sys.stdin.isatty()
    if interactive:
        err.print(f"[bold]moe chat[/] · conversation [bold]{escape(conversation.conversation_id)}[/] "
                  "(resume with --conversation) — /exit to quit, /reset to forget, /expert NAME to switch, /help")
    for line in [prompt] if prompt is not None else _lines(interactive):
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if _command(text, conversation):
                break
            continue
        stream = conversation.stream(text, max_tokens=max_tokens, temperature=temperature, seed=seed)
        for delta in stream:
            out.print(delta, end="", markup=False)
        out.print()
        err.print(f"[dim]{escape(_footer(stream.response))}[/]")


def _lines(interactive: bool) -> Any:
    while True:
        try:
            line = out.input("[bold cyan]you> [/]") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and line == "":
            return
        yield line


def _command(text: str, conversation: Any) -> bool:
    """Handle a slash command; True means leave the chat."""
    name, _, arg = text.partition(" ")
    if name in {"/exit", "/quit"}:
        return True
    if name == "/reset":
        conversation.reset()
        err.print("[dim]conversation cleared[/]")
    elif name == "/expert":
        if not arg.strip():
            err.print("[yellow]usage: /expert NAME | auto | none[/]")
        else:
            conversation.expert = parse_expert_spec(arg)
            err.print(f"[dim]expert: {arg.strip()}[/]")
    elif name == "/help":
        err.print("/exit  /reset  /expert NAME|auto|none  /help")
    else:
        err.print(f"[yellow]unknown command {name}; /help lists them[/]")
    return False


def _contract(response: Any) -> dict[str, Any]:
    """The `moe generate --json` document (DESIGN.md)."""
    data = response.to_dict()
    return {k: data[k] for k in ("text", "expert", "routing", "usage", "timings")} | {
        "finish_reason": data["finish_reason"]
    }


def _footer(response: Any) -> str:
    """The line under each answer: who answered and why (the routing decision), then usage and speed."""
    routing, t = response.routing, response.timings
    route = f"{response.expert or 'base model'} {routing['confidence']:.2f} · {routing['strategy']}"
    if routing["strategy"] != "explicit":
        route += f": {routing['reason'][:REASON_SHOWN]}"
    return (
        f"[{route}] {response.usage['completion_tokens']} tokens · TTFT {t['ttft_ms']:.0f} ms · "
        f"{t['tokens_per_s']:.1f} tok/s · {response.finish_reason}"
    )
