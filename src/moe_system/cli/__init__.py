"""The `moe` command line: a thin layer over the Python API.

User mistakes (bad config, missing model, prompt too long, bad flags) print one line and exit with
code 2; `--debug` (or MOE_DEBUG=1) shows the traceback instead.

    moe generate --expert none --json "What is the capital of France?"
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape
from typer._click.exceptions import ClickException, UsageError  # typer vendors click

from moe_system import __version__
from moe_system.cli import bench, bot, config_cmd, demo, experts, export, generate, route, serve, train
from moe_system.cli import data as data_cmd
from moe_system.cli import eval as eval_cmd
from moe_system.cli import memory as memory_cmd
from moe_system.cli.common import err
from moe_system.config import Quantization
from moe_system.errors import MoEError

app = typer.Typer(
    name="moe", help="A base language model with hot-swappable domain experts.",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
)
app.command("generate")(generate.generate)
app.command("chat")(generate.chat)
app.command("demo")(demo.demo)
app.command("eval")(eval_cmd.evaluate)
app.command("train")(train.train)
app.command("route")(route.route)
app.command("serve")(serve.serve)
app.command("bot")(bot.bot)
app.add_typer(config_cmd.app, name="config")
app.add_typer(bench.app, name="bench")
app.add_typer(experts.app, name="experts")
app.add_typer(data_cmd.app, name="data")
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(export.app, name="export")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks (give it before the command)")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="print the version and exit", callback=_print_version, is_eager=True)
    ] = False,
    quantization: Annotated[Quantization | None, typer.Option(
        "--quantization", help="how the base's weights run (base.quantization; give it before the command)")] = None,
) -> None:
    """Options for every command."""
    if quantization is not None:  # settings are read from the environment by every command
        os.environ["MOE_BASE__QUANTIZATION"] = quantization


def main() -> None:
    """Console entry point with the error policy above."""
    debug = "--debug" in sys.argv[1:] or os.environ.get("MOE_DEBUG") == "1"
    try:
        code = app(standalone_mode=False)
    except ClickException as error:  # bad flags and values: click's own one-line message
        error.show()
        sys.exit(2 if isinstance(error, UsageError) else error.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except MoEError as error:
        if debug:
            raise
        err.print(f"[red]error:[/] {escape(str(error))}")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
