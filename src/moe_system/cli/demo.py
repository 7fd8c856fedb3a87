"""`moe demo` (run by `make demo`): a few English and Russian prompts through `MoEClient`, each
answer printed with its routing and timings. Non-interactive; the first run converts the model."""

from __future__ import annotations

import time

from rich.panel import Panel

from moe_system.cli.common import err, make_client, out

DEMO_PROMPTS = [
    "What is the capital of France?",
    "Give me three short tips for staying focused while studying.",
    "Write a Python function that returns the factorial of n.",
    "Какая столица Франции?",
    "Привет! Расскажи коротко, что такое фотосинтез.",
]


def demo() -> None:
    """Answer a few English and Russian prompts with the embedded model and show timings."""
    started = time.perf_counter()
    client = make_client()
    runtime = client.runtime
    err.print(f"[bold]model[/] {runtime.model_name} · backend {runtime.backend_name} · loaded in "
              f"{runtime.load_s:.1f} s")
    for prompt in DEMO_PROMPTS:
        response = client.generate(prompt, max_tokens=96)
        t = response.timings
        route = response.expert or "base model"
        subtitle = (f"{route} · {response.usage['completion_tokens']} tokens · TTFT {t['ttft_ms']:.0f} ms · "
                    f"{t['tokens_per_s']:.1f} tok/s · {response.finish_reason}")
        out.print(Panel(response.text.strip() or "(empty)", title=prompt, subtitle=subtitle,
                        title_align="left", subtitle_align="right"))
    out.print(f"demo finished in {time.perf_counter() - started:.1f} s")
