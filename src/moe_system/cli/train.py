"""`moe train --recipe R`: train, evaluate, package, sign and install an expert from a recipe."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from moe_system.cli.common import err, out, print_json
from moe_system.config import load_settings


def train(
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="recipe YAML (see recipes/)")],
    fresh: Annotated[bool, typer.Option("--fresh", help="discard an earlier run of this recipe")] = False,
    install: Annotated[bool, typer.Option("--install/--no-install", help="install the expert at the end")] = True,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="stop after N optimizer steps")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON document")] = False,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="run folder (default: MOE_HOME/runs/NAME-VERSION)",
                                                 file_okay=False)] = None,
) -> None:
    """Train the expert a recipe describes; a second run of the same recipe resumes where it stopped."""
    from moe_system.training.config import Recipe
    from moe_system.training.pipeline import run_recipe

    result = run_recipe(Recipe.load(recipe), load_settings(), fresh=fresh, install=install, max_steps=max_steps,
                        console=err, run_dir=run_dir)
    if json_output:
        print_json(asdict(result))
        return
    scores = ""
    if result.expert_accuracy is not None:
        scores = f"; held-out accuracy {result.expert_accuracy:.1%} (base {result.base_accuracy:.1%})"
    out.print(f"{escape(result.name)} {escape(result.version)}: {result.steps} steps{scores}")
    out.print(f"run folder {escape(result.run_dir)}" + (" · installed" if result.installed else ""))
