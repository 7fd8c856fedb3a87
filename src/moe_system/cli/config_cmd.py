"""`moe config show`: the effective settings and where they came from."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from moe_system.cli.common import err, out, print_json
from moe_system.config import config_path, load_settings

app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@app.command("show")
def show(json_output: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the effective settings (defaults < YAML file < MOE_* variables)."""
    settings = load_settings()
    data = settings.model_dump(mode="json")
    if json_output:
        print_json(data)
        return
    path = config_path()
    err.print(f"[dim]config file: {path or 'none (defaults + MOE_* variables)'}[/]")
    out.print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="", markup=False)
