"""`moe bench ...`: benchmarks that print numbers (and one JSON document with --json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast, get_args

import typer
from rich.table import Table

from moe_system.cli.common import err, make_client, out, print_json
from moe_system.config import Quantization, load_settings
from moe_system.errors import InvalidRequestError

QUANTIZATIONS: tuple[str, ...] = get_args(Quantization)

app = typer.Typer(help="Measure speed against the peers, in the same run.", no_args_is_help=True)


@app.command("decode")
def decode(
    new_tokens: Annotated[int, typer.Option("--new-tokens", min=1, max=2048)] = 64,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=50)] = 3,
    quantization: Annotated[Quantization, typer.Option(
        "--quantization", help="how our engine runs the base's weights (int4 runs as int8 where its kernel "
        "cannot run); other than none, our fp32 engine is measured beside it")] = "int8",
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Tokens/s at batch 1 and 8, TTFT and RSS, against transformers' generate on the same model."""
    from moe_system.bench.decode import run

    with err.status("benchmarking decode (ours, then transformers.generate)…"):
        result = run(load_settings(), new_tokens=new_tokens, repeats=repeats, quantization=quantization)
    if json_output:
        print_json(result)
        return
    out.print(_decode_table(result))
    out.print(f"prompt {result['prompt_tokens']} and {result['long_prompt_tokens']} tokens, {result['new_tokens']} "
              f"new tokens, median of {result['repeats']}; peak RSS {result['peak_rss_mb']} MB; the peers' RSS is "
              "what loading them added to the process")


def _decode_table(result: dict[str, Any]) -> Table:
    """`moe bench decode`'s numbers, our engine beside its fp32 self (when quantized) and the peers."""
    peer, onnx, vs_fp32 = result["peer"], result["onnx_peer"], result["vs_fp32"]
    long_key = f"ttft_{result['long_prompt_tokens']}_ms"
    columns: list[tuple[str, dict[str, Any]]] = [(f"moe engine {result['quantization']}", result)]
    if vs_fp32:
        columns.append(("moe engine fp32", vs_fp32["fp32"]))
    columns.append((onnx["name"], onnx))
    columns.append(("transformers fp32", peer))
    table = Table(title=f"decode · {result['model']} · {result['threads']} threads · {result['cpu']}")
    table.add_column("")
    for name, _ in columns:
        table.add_column(name, justify="right")
    rows = [("batch 1 tok/s", "batch1_tokens_per_s"), ("batch 1 + expert tok/s", "batch1_expert_tokens_per_s"),
            (f"batch {result['batch']} tok/s", f"batch{result['batch']}_tokens_per_s"),
            (f"batch {result['batch']}, {result['batch']} experts tok/s",
             f"batch{result['batch']}_mixed_experts_tokens_per_s"),
            ("TTFT ms (short prompt)", "ttft_ms"), ("TTFT ms (long prompt)", long_key),
            ("load s", "load_s"), ("RSS MB", "rss_mb")]
    for label, key in rows:
        table.add_row(label, *(str(values.get(key, values.get("rss_added_mb", "-") if key == "rss_mb" else "-"))
                               for _, values in columns))
    if vs_fp32:
        table.caption = (f"vs our fp32: batch 1 {vs_fp32['batch1']}×, with an expert "
                         f"{vs_fp32['batch1_with_expert']}×; mixed ÷ one expert {result['mixed_ratio']}")
    return table


@app.command("experts")
def experts(
    new_tokens: Annotated[int, typer.Option("--new-tokens", min=1, max=2048)] = 32,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=50, help="turns of the six timed runs")] = 5,
    rank: Annotated[int, typer.Option("--rank", min=1, max=256, help="LoRA rank of the synthetic experts")] = 16,
    load_count: Annotated[int, typer.Option("--load-count", min=8, max=256, help="experts loaded in a row")] = 16,
    peer: Annotated[bool, typer.Option("--peer/--no-peer", help="also measure PEFT (slow)")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Adapter loads (page cache and cold), hot swap and batch-8 throughput with one expert, with a different expert
    per row and without adapters, against PEFT on the same adapters."""
    from moe_system.bench.experts import run

    with err.status("benchmarking experts (ours and PEFT, taking turns)…"):
        result = run(load_settings(), new_tokens=new_tokens, repeats=repeats, rank=rank, load_count=load_count,
                     peer=peer)
    if json_output:
        print_json(result)
        return
    table = Table(title=f"experts · {result['model']} · LoRA r{result['rank']} all linears "
                        f"({result['adapter_mb']} MB) · batch {result['batch']} · {result['cpu']}")
    for column in ("", "moe engine (native)", "peft (transformers)", "ours ÷ peft"):
        table.add_column(column, justify="right")
    theirs = result.get("peer", {})
    for key, label in (("load_ms_page_cache", "load ms, page cache (median)"),
                       ("load_ms_page_cache_last", "load ms, page cache (last)"), ("load_ms_cold", "load ms, cold"),
                       ("hot_swap_ms", "hot swap ms"), ("base_tokens_per_s", "no adapter tok/s"),
                       ("uniform_tokens_per_s", "1 expert × 8 rows tok/s"),
                       ("mixed_tokens_per_s", "8 experts × 1 row tok/s"), ("mixed_ratio", "mixed ÷ 1 expert"),
                       ("uniform_vs_base", "1 expert ÷ no adapter"), ("mixed_vs_base", "mixed ÷ no adapter")):
        mine, other = result[key], theirs.get(key)
        higher_is_better = key.endswith(("per_s", "ratio", "vs_base"))
        ratio = "" if other is None else f"{(mine / other if higher_is_better else other / mine):.2f}×"
        table.add_row(label, str(mine), "" if other is None else str(other), ratio)
    out.print(table)
    drop = result["cold_cache"]
    out.print(f"cold loads: {drop['resident_before_drop']:.0%} of the files resident before the drop, "
              f"{drop['resident_after_drop']:.0%} after; RSS {result['rss_mb']} MB; {result['experts_loaded']} "
              f"experts loaded; load average {result['load_average_1m']['start']} → {result['load_average_1m']['end']}")


@app.command("train")
def train(
    steps: Annotated[int, typer.Option("--steps", min=1, max=1000, help="timed optimizer steps")] = 6,
    precision: Annotated[str, typer.Option("--precision", help="fp32 | bf16 (autocast, both sides)")] = "fp32",
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Training tokens/s of our trainer against HF Trainer + PEFT (LoRA r16, batch 8, same batches)."""
    from moe_system.bench.train import run

    with err.status("benchmarking training (ours, then HF Trainer + PEFT)…"):
        if precision not in {"fp32", "bf16"}:
            raise typer.BadParameter("--precision must be fp32 or bf16")
        result = run(load_settings(), steps=steps, precision=precision)
    if json_output:
        print_json(result)
        return
    peer = result["peer"]
    out.print(f"training {result['method']} · batch {result['batch']} · {result['tokens_per_step']} tokens/step · "
              f"{result['cpu']}")
    out.print(f"  moe trainer:             {result['tokens_per_s']} tok/s ({result['s_per_step']} s/step)")
    out.print(f"  {peer['name']}: {peer['tokens_per_s']} tok/s ({peer['s_per_step']} s/step)")
    out.print(f"  ratio {result['ratio']}×")


@app.command("router")
def router(
    experts: Annotated[int, typer.Option("--experts", min=1, max=512,
                                         help="experts for the scaled run (synthesized beyond the installed)")] = 64,
    passes: Annotated[int, typer.Option("--passes", min=1, max=20, help="timed passes over the held-out split")] = 2,
    peer: Annotated[bool, typer.Option("--peer/--no-peer", help="also measure semantic-router (aurelio)")] = True,
    packages: Annotated[Path | None, typer.Option(
        "--packages", help="route over the .expert packages of this folder instead of the installed experts")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Accuracy and p50/p99 latency per strategy, at the installed experts (or --packages) and at --experts,
    against semantic-router on the same encoder and data."""
    from moe_system.bench.router import STRATEGY_ORDER, run
    from moe_system.experts.registry import Registry
    from moe_system.routing.evaluation import bundled_split
    from moe_system.routing.profiles import package_profile, profiles_of

    if packages is not None:
        files = sorted(packages.glob("*.expert")) if packages.is_dir() else []
        if not files:
            raise InvalidRequestError(f"{packages}: no .expert packages there")
        profiles = [package_profile(path) for path in files]
    else:
        with Registry(load_settings()) as registry:
            profiles = profiles_of(registry.list())
    if not profiles:
        raise InvalidRequestError("no experts are installed: install some (`make demo` installs the starters) "
                                  "or pass --packages experts")
    with err.status("benchmarking routing…") as status:
        result = run(profiles, bundled_split("test"), bundled_split("train"), total_experts=experts, passes=passes,
                     peer=peer, progress=lambda message: status.update(f"benchmarking routing: {message}…"))
    if json_output:
        print_json(result)
        return
    table = Table(title=f"routing · {', '.join(result['experts'])} · {result['held_out']} held-out requests · "
                        f"{result['cpu']}")
    scaled = result.get("scaled")
    columns = ["", "accuracy", "en", "ru", "p50 ms", "p99 ms"]
    if scaled:
        columns += [f"p99 ms @{scaled['experts']}", f"accuracy @{scaled['experts']}"]
    for column in columns:
        table.add_column(column, justify="right")
    rows = [(name, result["strategies"][name], scaled["strategies"][name] if scaled else None)
            for name in STRATEGY_ORDER]
    if "peer" in result:
        rows.append((result["peer"]["name"], result["peer"], None))
    for name, row, at_scale in rows:
        cells = [name, f"{row['accuracy']:.1%}", f"{row['by_language'].get('en', 0):.1%}",
                 f"{row['by_language'].get('ru', 0):.1%}", str(row["p50_ms"]), str(row["p99_ms"])]
        if scaled:
            cells += ["", ""] if at_scale is None else [str(at_scale["p99_ms"]), f"{at_scale['accuracy']:.1%}"]
        table.add_row(*cells)
    out.print(table)
    out.print(f"fitting: {result['fit_s']} s" + (f", {scaled['fit_s']} s at {scaled['experts']} experts"
                                                 if scaled else ""))


@app.command("memory")
def memory(
    tokens: Annotated[int, typer.Option("--tokens", min=30_000, max=5_000_000,
                                        help="size of the synthetic conversation (base-model tokens)")] = 750_000,
    budgets: Annotated[str, typer.Option("--budgets", help="tier budgets to run, comma-separated")] = "250000,20000",
    context: Annotated[int, typer.Option("--context", min=256, max=100_000, help="max_tokens of each context")] = 4000,
    passes: Annotated[int, typer.Option("--passes", min=1, max=20, help="timed passes over the questions")] = 3,
    sets: Annotated[str, typer.Option("--sets", help="template sets, comma-separated")] = "tuning,heldout",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Ingest rate, build_context p50/p95, RSS and planted-fact recall of the three-level memory on a synthetic
    EN/RU conversation, for the tuning and the held-out template sets, against a BM25 peer and a last-N-tokens
    peer in the same 4,000-token budget."""
    from moe_system.bench.memory import run

    try:
        sizes = tuple(int(part) for part in budgets.split(",") if part.strip())
    except ValueError as error:
        raise InvalidRequestError(f"--budgets must be comma-separated integers, not {budgets!r}") from error
    if not sizes or min(sizes) < 1000:
        raise InvalidRequestError("--budgets needs at least one budget of at least 1000 tokens")
    template_sets = tuple(part.strip() for part in sets.split(",") if part.strip())
    with err.status("benchmarking memory…") as status:
        result = run(tokens, sizes, context, passes=passes, seed=seed, template_sets=template_sets,
                     progress=lambda message: status.update(f"benchmarking memory: {message}…"))
    if json_output:
        print_json(result)
        return
    first = next(iter(result["sets"].values()))["conversation"]
    table = Table(title=f"memory · {first['tokens']} tokens, {first['messages']} messages · "
                        f"{result['max_context_tokens']}-token contexts · recall = questions answered · "
                        f"{result['cpu']}")
    for column in ("set", "context from"):
        table.add_column(column)
    for column in ("recall", "direct", "paraphrased", "never updated", "updated", "ctx p50 ms", "ctx p95 ms",
                   "add p99 ms", "msgs/s", "compressed in s", "RSS MB"):
        table.add_column(column, justify="right")
    for name, part in result["sets"].items():
        label = f"{name} ({part['conversation']['facts']} facts, {part['conversation']['questions']} q.)"
        for row in part["runs"]:
            ingest = row["ingest"]
            table.add_row(label, f"memory {row['budget_per_tier'] // 1000}k ×3", *_rates(row["recall"]),
                          str(row["build_context_ms"]["p50"]), str(row["build_context_ms"]["p95"]),
                          str(ingest["add_message_ms"]["p99"]), str(ingest["add_messages_per_s"]),
                          str(ingest["until_compressed_s"]), f"{row['rss_mb']['process']} + {row['rss_mb']['worker']}")
            label = ""
        for peer, title in (("bm25", "BM25 peer"), ("tail", "tail peer")):
            table.add_row(label, title, *_rates(part["peers"][peer]), *[""] * 6)
    out.print(table)


def _rates(recall: dict[str, Any]) -> list[str]:
    """Overall and per-group recall as percentages ("–" for a group with no question)."""
    groups = (recall[group] for group in ("direct", "paraphrased", "never_updated", "updated"))
    return [f"{recall['rate']:.0%}", *(f"{group['rate']:.0%}" if group else "–" for group in groups)]


@app.command("quality")
def quality(
    recipes: Annotated[Path, typer.Option("--recipes", help="folder of the recipes that trained the experts")] = Path(
        "recipes"),
    packages: Annotated[Path | None, typer.Option(
        "--packages", help="first install the .expert packages of this folder (signed by its publisher.pub)")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="only the first N held-out and field items each")] = None,
    held_out: Annotated[int | None, typer.Option(
        "--held-out", min=1, max=5000, help="N held-out items per expert from its recipe's held-out generator (same "
        "seed and contamination check; default: the recipe's n)")] = None,
    best_of: Annotated[int, typer.Option(
        "--best-of", min=1, max=16, help="also score verified best-of-N and time it (1 = greedy only)")] = 8,
    quantization: Annotated[str | None, typer.Option(
        "--quantization", help="instead, the base's quantization gate for these kinds (comma-separated: "
        "none,int8,int4): perplexity, greedy agreement and the experts' greedy held-out accuracy against fp32")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Held-out and field accuracy of the installed experts (held-out items rebuilt as their training runs built
    them), greedy and verified best-of-N, beside the base model on the same items; or, with --quantization, the
    base's perplexity, greedy agreement and the experts' greedy held-out accuracy under each quantization."""
    from moe_system.bench.quality import run
    from moe_system.cli.demo import install_shipped, publisher_key

    files = sorted(recipes.glob("*.yaml")) if recipes.is_dir() else []
    if not files and quantization is None:
        raise InvalidRequestError(f"--recipes {recipes}: no recipe (*.yaml) there")
    client = make_client(batching=True)  # the items of one expert decode together
    if packages is not None:
        install_shipped(client, packages, publisher_key(packages))
    if quantization is not None:  # each kind gets a client of its own
        client.close()
        _quantization_gate(quantization, files, limit, held_out, json_output)
        return
    with err.status("benchmarking quality…") as status:
        result = run(client, files, limit, progress=lambda message: status.update(f"benchmarking quality: {message}…"),
                     best_of=best_of, held_out=held_out)
    if json_output:
        print_json(result)
        return
    n = result["best_of"]
    table = Table(title=f"quality · {result['kind']} items · greedy and best of {n} · {result['cpu']}")
    for column in ("expert", "task", "held-out items", "expert", f"best of {n}", "base", "field items", "expert",
                   "en / ru", f"best of {n}", "en / ru", "base", "latency × (batch 1)"):
        table.add_column(column, justify="right")

    def accuracy(scores: dict[str, Any], side: str) -> str:
        return f"{scores[side]['accuracy']:.1%}" if side in scores else "-"

    def by_lang(scores: dict[str, Any], side: str) -> str:
        return " / ".join(f"{value:.0%}" for value in scores[side]["by_lang"].values()) if side in scores else "-"

    for row in result["experts"]:
        field, held = row["field"], row["scores"]
        table.add_row(f"{row['expert']} {row['version']}", row["task"], str(row["items"]),
                      accuracy(held, "expert"), accuracy(held, "expert_best_of"), accuracy(held, "base"),
                      str(row["field_items"]), accuracy(field, "expert"), by_lang(field, "expert"),
                      accuracy(field, "expert_best_of"), by_lang(field, "expert_best_of"), accuracy(field, "base"),
                      f"{row['latency']['ratio']:.2f}" if row["latency"] else "-")
    out.print(table)
    for line in result["skipped"]:
        err.print(f"skipped {line}")


def _quantization_gate(kinds_text: str, recipes: list[Path], limit: int | None, held_out: int | None,
                       json_output: bool) -> None:
    """`moe bench quality --quantization KINDS`: perplexity, agreement and the experts' held-out accuracy (the
    first `limit` items each) of each kind against fp32."""
    from moe_system.bench.quantization import run
    from moe_system.client import MoEClient

    kinds = [kind.strip() for kind in kinds_text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in QUANTIZATIONS]
    if unknown or not kinds:
        raise InvalidRequestError(f"--quantization {kinds_text!r}: give kinds among {', '.join(QUANTIZATIONS)}")
    settings = load_settings()

    def client_for(kind: Quantization) -> MoEClient:
        base = settings.base.model_copy(update={"quantization": kind})
        return MoEClient(settings.model_copy(update={"base": base}), console=err, batching=True)

    with err.status("measuring the quantization gate…") as status:
        result = run(settings, cast(list[Quantization], kinds),
                     progress=lambda message: status.update(f"measuring the quantization gate: {message}…"),
                     client_for=client_for, recipes=recipes, limit=limit, held_out=held_out)
    if json_output:
        print_json(result)
        return
    table = Table(title=f"quantization gate · {result['model']} · {result['threads']} threads · {result['cpu']}")
    for column in ("kind", "runs as", "perplexity", "en", "ru", "change", "identical completions", "shared prefix"):
        table.add_column(column, justify="right")
    for kind, row in result["kinds"].items():
        table.add_row(kind, row["runs_as"], str(row["perplexity"]), str(row["perplexity_en"]),
                      str(row["perplexity_ru"]),
                      f"{row['perplexity_change_pct']:+.2f}%", f"{row['agreement']['identical']:.0%}",
                      f"{row['agreement']['prefix']:.0%}")
    out.print(table)
    if result["experts"]:
        experts = Table(title="experts' greedy held-out accuracy (points against fp32)")
        for column in ("expert", "items", *result["kinds"]):
            experts.add_column(column, justify="right")
        for row in result["experts"]:
            experts.add_row(row["expert"], str(row["items"]), *(
                f"{scores['accuracy']:.1%} ({scores['change_points']:+.1f})" for scores in row["kinds"].values()))
        out.print(experts)
    for line in result["notes"]:
        err.print(line, markup=False)


@app.command("serve")
def serve(
    clients: Annotated[int, typer.Option("--clients", min=1, max=512, help="concurrent streaming clients")] = 32,
    duration: Annotated[float, typer.Option("--duration", min=5, max=3600, help="seconds of load")] = 120.0,
    single: Annotated[float, typer.Option("--single", min=5, max=600, help="seconds of the lone stream")] = 30.0,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, max=2048, help="tokens per answer")] = 64,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Concurrent streaming clients against a real `moe serve` (OpenAI API): errors, TTFT p50/p95/p99 and the
    aggregate tokens/s, against one stream alone on the same server."""
    from moe_system.bench.serve import run

    with err.status("benchmarking the server…") as status:
        result = run(load_settings(), clients=clients, duration_s=duration, single_s=single, max_tokens=max_tokens,
                     progress=lambda message: status.update(f"benchmarking the server: {message}…"))
    if json_output:
        print_json(result)
        return
    table = Table(title=f"serve · {result['model']} ({result['backend']}) · {max_tokens} tokens an answer · "
                        f"models {', '.join(result['models'])} · {result['cpu']}")
    for column in ("clients", "requests", "errors", "TTFT p50 ms", "TTFT p99 ms", "latency p50 ms", "tok/s"):
        table.add_column(column, justify="right")
    for row in (result["single"], result["load"]):
        table.add_row(str(row["clients"]), str(row["requests"]), str(row["errors"]), str(row["ttft_ms"]["p50"]),
                      str(row["ttft_ms"]["p99"]), str(row["latency_ms"]["p50"]), str(row["tokens_per_s"]))
    out.print(table)
    out.print(f"aggregate ÷ one stream: {result['speedup']}×; the engine's own mean TTFT under load: "
              f"{result['load']['engine_ttft_mean_ms']} ms")


@app.command("soak")
def soak(
    minutes: Annotated[float, typer.Option("--minutes", min=0.1, max=1440, help="minutes of load")] = 10.0,
    streams: Annotated[int, typer.Option("--streams", min=1, max=512, help="concurrent streaming clients")] = 32,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, max=2048, help="tokens per answer")] = 64,
    url: Annotated[str | None, typer.Option("--url", help="soak this running server instead of starting one")] = None,
    key: Annotated[str | None, typer.Option("--key", envvar="MOE_BENCH_KEY", help="the key for --url")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """Concurrent streaming clients (OpenAI API and /chat) that hang up at random points against a real `moe serve`:
    server errors, requests done and cancelled, tokens/s, the server's RSS growth after warm-up, and whether every
    cancelled row was freed. Exits 1 when the server failed any of it."""
    from moe_system.bench.soak import run

    with err.status("soaking the server…") as status:
        result = run(load_settings(), minutes=minutes, streams=streams, max_tokens=max_tokens, url=url, key=key,
                     progress=lambda message: status.update(f"soaking the server: {message}…"))
    if json_output:
        print_json(result)
    else:
        rss = result["rss_mb"]
        table = Table(title=f"soak · {result['model']} ({result['backend']}) · {streams} streams · {minutes:g} min · "
                            f"{result['cpu']}")
        for column in ("requests", "completed", "cancelled", "429", "server errors", "tok/s", "RSS MB after warm-up",
                       "RSS MB end", "growth", "rows left"):
            table.add_column(column, justify="right")
        table.add_row(str(result["requests"]), str(result["completed"]), str(result["cancelled"]),
                      str(result["rejected"]), str(result["server_errors"] + result["client_errors"]),
                      str(result["tokens_per_s"]), str(rss.get("after_warmup", "–")), str(rss.get("end", "–")),
                      "–" if rss["growth_pct"] is None else f"{rss['growth_pct']}%",
                      f"{result['batch_after']['active']} active, {result['batch_after']['queued']} queued")
        out.print(table)
        for example in result["error_examples"]:
            err.print(f"error: {example}")
    growth = result["rss_mb"]["growth_pct"]
    if result["server_errors"] or result["client_errors"] or not result["rows_freed"] or (growth or 0) >= 5:
        raise typer.Exit(1)


@app.command("bot")
def bot(
    questions: Annotated[int, typer.Option("--questions", min=1, max=1000, help="questions from one chat")] = 20,
    chats: Annotated[int, typer.Option("--chats", min=1, max=1000, help="chats asking at once")] = 50,
    messages: Annotated[int, typer.Option("--messages", min=10, max=5000, help="messages of the recall chat")] = 500,
    facts: Annotated[int, typer.Option("--facts", min=1, max=36, help="facts told in the recall chat")] = 10,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, max=1024, help="bot.max_tokens")] = 32,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
) -> None:
    """The Telegram bot against the stand-in Bot API server: reply latency, 50 chats at once against one, and the
    recall of facts told hundreds of messages earlier."""
    from moe_system.bot.bench import run

    with err.status("benchmarking the bot…") as status:
        result = run(load_settings(), questions=questions, chats=chats, messages=messages, facts=facts,
                     max_tokens=max_tokens, progress=lambda message: status.update(f"benchmarking the bot: "
                                                                                    f"{message}…"))
    if json_output:
        print_json(result)
        return
    latency, crowd, recall = result["latency"], result["chats"], result["recall"]
    out.print(f"bot · {max_tokens} tokens a reply · {result['cpu']}")
    out.print(f"first message: p50 {latency['first_message_ms']['p50']} ms, p95 {latency['first_message_ms']['p95']} "
              f"ms over {latency['questions']} questions; {latency['replies_per_s']} replies/s alone")
    out.print(f"{crowd['chats']} chats at once: {crowd['answered']} answered, {crowd['errors']} errors, "
              f"{crowd['replies_per_s']} replies/s ({crowd['vs_one_chat']}x one chat)")
    out.print(f"recall: {recall['recalled']} of {recall['facts']} facts told {recall['told_messages_back']['min']}-"
              f"{recall['told_messages_back']['max']} messages earlier ({recall['recall']})")
