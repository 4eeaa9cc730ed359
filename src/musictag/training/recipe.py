"""Experiments as YAML recipes, with ``--set key.sub=value`` overrides."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from musictag.errors import ParameterError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; recipes mean a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def _read(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def apply_override(recipe: dict, assignment: str) -> None:
    """``a.b=value``: set a nested key; the value is read as YAML (numbers, lists, booleans)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ParameterError(f"--set takes key=value, got {assignment!r}")
    node = recipe
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParameterError(f"--set {key}: {part} is not a section")
    node[last] = _read(raw) if raw else ""


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: recipe not found")
    try:
        recipe = _read(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(recipe, dict):
        raise ParameterError(f"{path}: a recipe is a mapping of settings")
    recipe.setdefault("name", path.stem)
    for assignment in overrides:
        apply_override(recipe, assignment)
    for required in ("kind", "data"):
        if required not in recipe:
            raise ParameterError(f"{path}: the recipe needs '{required}'")
    return recipe
