"""What a training job may run: the recipes offered by name, uploaded recipes (kept to `MOE_HOME/datasets/`), the
checks a recipe passes before a job is accepted, and the request that names one."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml
from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

import moe_system
from moe_system.config import Settings
from moe_system.errors import ConfigError, InvalidRequestError
from moe_system.training.config import Recipe

# The repository's recipes/ (a source checkout; an installed wheel has none) and the installation's own.
SHIPPED_RECIPES = Path(moe_system.__file__).resolve().parents[2] / "recipes"
_LOG = logging.getLogger(__name__)


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipe: str | None = Field(None, min_length=1, max_length=200, description="a name from GET /train/recipes")
    recipe_yaml: str | None = Field(None, min_length=1, max_length=1_000_000, description="a whole recipe (YAML)")
    max_steps: int | None = Field(None, ge=1, le=10_000_000, description="stop after N optimizer steps")
    fresh: bool = Field(False, description="discard an earlier run of this recipe instead of resuming it (needs an "
                                           "admin key)")
    install: bool | None = Field(None, description="install the expert at the end (needs an admin key; default: "
                                                  "yes for an admin's job, no for a user's, whose package is "
                                                  "downloaded from GET /train/{job_id}/package)")


def recipe_files(settings: Settings) -> dict[str, Path]:
    """The recipes the server can run by name (file stem): the shipped ones, then `MOE_HOME/recipes/` (whose
    file wins over a shipped one of the same name)."""
    found: dict[str, Path] = {}
    for folder in (SHIPPED_RECIPES, settings.home / "recipes"):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            found[path.stem] = path
    return found


def offered(settings: Settings) -> list[dict[str, Any]]:
    """The runnable recipes (a file that does not load is left out, with a warning in the log)."""
    listed = []
    for name, path in recipe_files(settings).items():
        try:
            recipe = Recipe.load(path)
        except ConfigError as err:
            _LOG.warning("recipe %s is not offered: %s", path, err)
            continue
        listed.append({"name": name, "expert": recipe.expert.name, "version": recipe.expert.version,
                       "task": recipe.task, "description": recipe.expert.description})
    return listed


def resolve(request: TrainRequest, settings: Settings) -> Recipe:
    """The recipe a request names, checked as far as it can be before training: a bad recipe is an
    `InvalidRequestError` (400), an unknown name a 404."""
    if (request.recipe is None) == (request.recipe_yaml is None):
        raise InvalidRequestError("give exactly one of recipe (a name from GET /train/recipes) or recipe_yaml")
    if request.recipe is not None:
        path = recipe_files(settings).get(request.recipe)
        if path is None:
            raise HTTPException(404, f"recipe '{request.recipe}' does not exist: GET /train/recipes lists the "
                                     "recipes this server can run")
        recipe, source = Recipe.load(path), f"recipe {request.recipe}"
    else:
        assert request.recipe_yaml is not None
        recipe, source = parse_recipe(request.recipe_yaml, settings.home / "datasets"), "recipe_yaml"
    check_runnable(recipe, source)
    return recipe


def parse_recipe(text: str, datasets: Path) -> Recipe:
    """An uploaded recipe, validated; its data paths resolve against `datasets` (`MOE_HOME/datasets`) and must
    stay inside it, so that a key holder cannot train on (and so read back) any file of the server."""
    try:
        recipe = Recipe.parse(text, "recipe_yaml", datasets)
    except ConfigError as err:
        raise InvalidRequestError(str(err)) from None
    root = Path(os.path.normpath(datasets))
    for key, path in (("train.data.train", recipe.train.data.train), ("train.data.eval_file",
                                                                        recipe.train.data.eval_file)):
        if path is not None and not Path(os.path.normpath(path)).is_relative_to(root):
            raise InvalidRequestError(f"recipe_yaml: {key} must be a path under MOE_HOME/datasets/ (relative paths "
                                      "resolve there)")
    return recipe


def check_runnable(recipe: Recipe, source: str) -> None:
    """What the trainer would only find out later: the data files exist (the recipe's model already checked that
    the expert's name and version make a package and a run folder name)."""
    for key, path in (("train.data.train", recipe.train.data.train),
                      ("train.data.eval_file", recipe.train.data.eval_file)):
        if path is not None and not _exists(path):
            raise InvalidRequestError(f"{source}: {key}: no such file: {path.name}")


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except ValueError:  # a NUL byte in the name
        return False


def recipe_yaml(recipe: Recipe) -> str:
    """The recipe as the job's `recipe.yaml`: the fields it sets, with its data paths absolute."""
    return yaml.safe_dump(recipe.model_dump(mode="json", exclude_unset=True), sort_keys=False, allow_unicode=True,
                          width=120)
