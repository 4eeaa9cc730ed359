"""Experiments as YAML recipes: loaded and validated once into a typed :class:`Recipe`.

A recipe names its ``kind`` (``neural``, ``transfer`` or ``classical``), its ``data`` (a data-set
SPEC), and the kind's settings in a section of the same name; ``--set key.sub=value`` overrides
any setting before validation. Unknown or ill-typed settings are refused with the key's name.
Nothing heavy is imported here: the command line reads :data:`KINDS` and :data:`MODES`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musictag.data.spec import resolve_spec
from musictag.errors import ParameterError
from musictag.training.settings import ClassicalSettings, NeuralSettings, TransferSettings, from_section
from musictag.training.synthetic_source import is_synthetic

#: The recipes musictag ships (``musictag train NAME``).
RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
#: Each kind of recipe and the settings its section holds.
SETTINGS: dict[str, type] = {"neural": NeuralSettings, "transfer": TransferSettings, "classical": ClassicalSettings}
KINDS = tuple(SETTINGS)
#: The training strategies of the synthetic-data study (see :mod:`musictag.training.modes`).
MODES = ("src_only", "trg_only", "both", "TL", "FT", "DA")
_TOP_LEVEL = {"name": str, "kind": str, "data": str, "folds": int, "seed": int, "output": str}


@functools.cache
def _loader() -> type:
    """A YAML SafeLoader that reads ``1e-3`` as a number (YAML 1.1 reads it, with no dot, as a string);
    made on first use, so start-up does not import yaml."""
    import yaml

    class Loader(yaml.SafeLoader):
        """YAML 1.1 reads ``1e-3`` (no dot) as a string; recipes mean a number."""

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
    )
    return Loader


def _read(text: str, *, where: str | Path):
    """YAML ``text`` as Python values; ``where`` names it in the error of invalid YAML."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ParameterError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None


def apply_override(values: dict, assignment: str) -> None:
    """``a.b=value``: set a nested key; the value is read as YAML (numbers, lists, booleans)."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ParameterError(f"--set takes key=value, got {assignment!r}")
    node = values
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ParameterError(f"--set {key}: {part} is not a section")
    node[last] = _read(raw, where=f"--set {assignment}") if raw else ""


@dataclass
class Recipe:
    """A validated recipe: what to train (``settings``, typed by ``kind``), on which data, how."""

    name: str
    kind: str
    data: str
    settings: Any
    folds: int = 0
    seed: int = 0
    output: str | None = None
    source: str = "recipe"  # where it came from, for messages
    values: dict = field(default_factory=dict)  # as written (after overrides), for the run's records

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] = ()) -> Recipe:
        """Read a YAML recipe (a file, or the name of a shipped one), apply ``key=value`` overrides,
        validate. Relative paths in the file's ``data`` (and in ``extra`` and ``reference``) are read against
        the file's folder; those given in overrides, against the working directory."""
        path = find_recipe(path)
        values = _read(path.read_text(), where=path) or {}
        if not isinstance(values, dict):
            raise ParameterError(f"{path}: a recipe is a mapping of settings")
        values.setdefault("name", path.stem)
        if isinstance(values.get("data"), str):
            values["data"] = resolve_spec(values["data"], path.parent)
        for kind in ("transfer", "neural"):
            section = values.get(kind) if isinstance(values.get(kind), dict) else {}
            if isinstance(section.get("extra"), dict):  # synth:N names clips rendered into the cache, no path
                section["extra"] = {
                    spec if is_synthetic(str(spec)) else resolve_spec(str(spec), path.parent): w
                    for spec, w in section["extra"].items()
                }
            if isinstance(section.get("reference"), str):
                section["reference"] = resolve_spec(section["reference"], path.parent)
        for assignment in overrides:
            apply_override(values, assignment)
        return cls.from_dict(values, source=str(path))

    @classmethod
    def from_dict(cls, values: dict, *, source: str = "recipe") -> Recipe:
        """A recipe from plain values (a YAML file's); an unknown kind or key is a :class:`ParameterError`."""
        if "kind" not in values:
            raise ParameterError(f"{source}: the recipe needs 'kind'")
        if values.get("data") is None:
            raise ParameterError(f"{source}: the recipe needs 'data': add --set data=SPEC")
        kind = values["kind"]
        if kind not in SETTINGS:
            raise ParameterError(
                f"{source}: recipe kind {kind!r} cannot be trained by this version (available: {', '.join(KINDS)})"
            )
        unknown = sorted(set(values) - set(_TOP_LEVEL) - {kind})
        if unknown:
            raise ParameterError(
                f"{source}: unknown settings {', '.join(unknown)} for a {kind} recipe "
                f"(known: {', '.join([*_TOP_LEVEL, kind])})"
            )
        top = {key: values[key] for key in _TOP_LEVEL if key in values and values[key] is not None}
        for key, value in top.items():
            expected = _TOP_LEVEL[key]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ParameterError(f"{source}: {key} must be {expected.__name__}, got {value!r}")
        section = values.get(kind)
        if (section is None or isinstance(section, dict)) and "seed" in SETTINGS[kind].__dataclass_fields__:
            section = {"seed": top.get("seed", 0), **(section or {})}  # the run's seed, unless the section sets one
        settings = from_section(SETTINGS[kind], section, kind)
        return cls(settings=settings, source=source, values=values, **{"name": "recipe", **top})


def shipped_recipes() -> list[str]:
    """Names of the recipes that come with musictag."""
    return sorted(path.stem for path in RECIPES_DIR.glob("*.yaml"))


def find_recipe(name: str | Path) -> Path:
    """A recipe file by path, or a shipped recipe by name (``gtzan-genre``)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    shipped = RECIPES_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if shipped.is_file() and path.parent.name in ("", "recipes"):  # NAME, NAME.yaml or recipes/NAME.yaml
        return shipped
    raise ParameterError(f"{name}: recipe not found (a YAML file, or one of: {', '.join(shipped_recipes())})")
