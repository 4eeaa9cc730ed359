"""The package's shape: light entry points that start at once, and no import cycle between modules."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import musictag

HEAVY = ("torch", "lightning", "sklearn", "matplotlib", "transformers", "pedalboard", "numpy")
PACKAGE = Path(musictag.__file__).parent


def _loaded_after(code: str) -> list[str]:
    """The heavy top-level modules a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return sorted(loaded & set(HEAVY))


@pytest.mark.parametrize(
    "code",
    [
        "import musictag",
        "import musictag.errors",
        "from musictag import ParameterError",
        "from musictag.cli.main import build_parser; build_parser()",
        "from musictag.training.recipe import KINDS, MODES",
        "from musictag.data.download import ARCHIVES",
    ],
)
def test_light_entry_points_import_no_heavy_library(code):
    assert _loaded_after(code) == []


def test_every_help_runs_without_heavy_libraries():
    code = (
        "import contextlib, io\nfrom musictag.cli.main import COMMANDS, main\n"
        "for args in [['--help'], *[[c, '--help'] for c in COMMANDS]]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(args)"
    )
    assert _loaded_after(code) == []


def _command_modules_after(argv: list[str]) -> list[str]:
    """The command modules (``musictag.cli.NAME``) a fresh interpreter imports to run ``musictag ARGV``."""
    code = (
        "import contextlib, io, json, sys\nfrom musictag.cli.main import COMMANDS, main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.removeprefix('musictag.cli.') in COMMANDS)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_command_imports_only_its_own_module():
    assert _command_modules_after(["--help"]) == []
    assert _command_modules_after(["tag", "--help"]) == ["musictag.cli.tag"]
    assert _command_modules_after(["--version"]) == []


def test_the_lazy_public_names_resolve():
    from musictag import Tagger, TagResult
    from musictag.inference.tagger import Tagger as Direct

    assert Tagger is Direct and TagResult.__name__ == "TagResult"
    with pytest.raises(AttributeError):
        _ = musictag.NoSuchThing


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """Every musictag module ``path`` imports, at any depth of the file (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules and name != module}
    return found


def test_no_import_cycles_between_modules():
    files = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {module: _imports(path, module, set(files)) for module, path in files.items()}
    # Tarjan's strongly connected components: any component of more than one module is a cycle
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_the_stub_names_every_lazy_export():
    """Type checkers see the lazy names through __init__.pyi: it must list exactly what __getattr__ serves."""
    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    stubbed = {alias.asname for node in stub.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    served = {name: module for name, module in musictag._EXPORTS.items()}
    assert stubbed == set(served)
    for node in stub.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert served[alias.asname] == node.module, alias.asname
