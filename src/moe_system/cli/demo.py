"""`moe demo` (run by `make demo`): the starter experts against the plain base model on questions neither has
seen, then a few English and Russian prompts through `MoEClient`, each answer printed with its routing and
timings. Non-interactive; the first run converts the model.

`--experts DIR` (the Makefile passes the repository's `experts/`) first installs the `.expert` packages found
there that are not installed yet, trusting the publisher key in `DIR/publisher.pub` for those installs only.
Each starter expert then answers one question of its task's field set (`data/field/`: written apart from the
generators, never trained on) beside the base model, both scored the way `moe eval` scores them; the expert
answers as its manifest says (verified best-of-N where it asks for it), and a math answer shows its program with
the values it computed, so its steps agree with its result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.markup import escape
from rich.panel import Panel

from moe_system.cli.common import err, make_client, out

DEMO_PROMPTS = [
    "What is the capital of France?",
    "Give me three short tips for staying focused while studying.",
    "Write a Python function that returns the factorial of n.",
    "Какая столица Франции?",
    "Привет! Расскажи коротко, что такое фотосинтез.",
]
PUBLISHER_KEY = "publisher.pub"
DEMO_FIELD_ITEM = 0  # which field item each starter expert answers: the first, whatever its result
STARTER_TASKS = ("sql", "python", "math")


def demo(
    experts: Annotated[
        Path | None,
        typer.Option("--experts", help="install the .expert packages of this folder (signed by its publisher.pub) "
                     "and show each answering beside the base model"),
    ] = None,
) -> None:
    """Show the starter experts beside the base model, then answer a few English and Russian prompts."""
    started = time.perf_counter()
    # a missing key is a user error: say so before the model loads
    starters = (experts, publisher_key(experts)) if experts is not None else None
    client = make_client()
    runtime = client.runtime
    err.print(f"[bold]model[/] {runtime.model_name} · backend {runtime.backend_name} · quantization "
              f"{runtime.engine.backend.quantization} · loaded in {runtime.load_s:.1f} s")
    if starters is not None:
        install_shipped(client, *starters)
        for task in STARTER_TASKS:
            if task in client.registry.names():
                _expert_beside_base(client, task)
    for prompt in DEMO_PROMPTS:
        response = client.generate(prompt, max_tokens=96)
        t = response.timings
        route = response.expert or "base model"
        subtitle = (f"{route} · {response.usage['completion_tokens']} tokens · TTFT {t['ttft_ms']:.0f} ms · "
                    f"{t['tokens_per_s']:.1f} tok/s · {response.finish_reason}")
        out.print(Panel(response.text.strip() or "(empty)", title=prompt, subtitle=subtitle,
                        title_align="left", subtitle_align="right"))
    out.print(f"demo finished in {time.perf_counter() - started:.1f} s")


def publisher_key(folder: Path) -> str:
    """The public key in `folder/publisher.pub`, which signed the packages beside it."""
    from moe_system.errors import ExpertError

    key = folder / PUBLISHER_KEY
    if not key.is_file():
        raise ExpertError(f"--experts {folder}: no {PUBLISHER_KEY} (the key that signed its packages) there")
    return key.read_text(encoding="utf-8")


def install_shipped(client: Any, folder: Path, publisher: str) -> None:
    """Install every package of `folder` whose name and version are not installed yet, trusting `publisher` (the
    key in `folder`'s publisher.pub, `publisher_key`) for these installs only."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.registry import Registry, trusting
    from moe_system.experts.verify import verify_package

    settings = trusting(client.settings, publisher)
    installed = {(e.name, e.version) for e in client.registry.list()}
    with Registry(settings) as registry:
        for package in sorted(folder.glob("*.expert")):
            manifest = verify_package(package, scratch=settings.home / "tmp").manifest
            if (manifest.name, manifest.version) in installed:
                continue
            registry.install(package, base_sha256=base_sha256(settings))
            err.print(f"installed expert [bold]{manifest.name}[/] {manifest.version} from {escape(str(package))}")


def _expert_beside_base(client: Any, task: str) -> None:
    """One field-set question answered by the base model and by the expert, each scored."""
    from moe_system.training.evaluation import build_prompt, field_items, score_answer

    item = field_items(task)[DEMO_FIELD_ITEM]
    prompt = build_prompt(item, task)
    manifest = client.registry.get(task).manifest
    scratch = client.settings.home / "tmp"
    panels = []
    for label, expert in (("base model", "none"), (f"expert {task}", task)):
        response = client.generate(prompt, expert=expert, max_tokens=manifest.generation.max_tokens,
                                   temperature=0.0)
        correct = score_answer(item, task, response.text, scratch=scratch)[1]
        mark = "[green]✓ correct[/]" if correct else "[red]✗ wrong[/]"
        vote = response.verification
        checked = f" · best of {vote['n']}: {vote['passed']} passed its check, {vote['agreeing']} agree" if vote else ""
        panels.append(Panel(escape(response.text.strip()) or "(empty)", title=f"{label} · {mark}",
                            subtitle=f"{response.usage['completion_tokens']} tokens{checked}", title_align="left"))
    evaluation = manifest.evaluation
    held_out = ""
    if evaluation is not None and evaluation.score is not None and evaluation.base_score is not None:
        held_out = f" · generator held-out accuracy: expert {evaluation.score:.0%}, base {evaluation.base_score:.0%}"
    out.print(Panel(Columns(panels, equal=True, expand=True), title=escape(prompt), title_align="left",
                    subtitle=f"{task} · field item {item.get('id', DEMO_FIELD_ITEM + 1)}{held_out}",
                    subtitle_align="right"))
