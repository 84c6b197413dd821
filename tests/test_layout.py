"""The package's shape, read from the source alone (no import runs): the layers, the import arrows, the sizes.

Every module of bon/ sits in one layer of LAYERS (STYLE.md, "For bon") and imports only from its own layer or
lower ones; the import graph has no cycle. Function-level imports count: they are arrows all the same. A new
module needs a row here: where it sits is a design decision, so an unplaced module fails the test.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BON = ROOT / "bon"

# Lowest first. A module belongs to the layer of the longest name that is it or a package above it.
LAYERS = [
    # pure parts: numbers, files, text, the process; nothing of bon above them
    ("base", ["bon", "bon.registry", "bon.store", "bon.estimator", "bon.models", "bon.chat", "bon.runtime",
              "bon.data"]),
    # the models: samplers and preference models, peers (each manages vLLM through bon.runtime, never the other)
    ("models", ["bon.sampling", "bon.scoring"]),
    # every instrument that turns text into a number, and the checks that are its proof
    ("judges", ["bon.judges"]),
    # one file per metric: reads judged values, loads no model
    ("metrics", ["bon.metrics"]),
    # what is computed over the metrics' curves and picks
    ("curves", ["bon.bias", "bon.coverage", "bon.curve_stats", "bon.curve_extrapolate", "bon.drift", "bon.selectors"]),
    # the typed config and its validation (asks the registries below); stages raise its ConfigError
    ("config", ["bon.config", "bon.config_groups", "bon.devices", "bon.cli"]),
    # files, plots, text and W&B from stored results; never runs a stage
    ("report", ["bon.report"]),
    # one stage per file, and the keys that address their results in the store
    ("stages", ["bon.stages", "bon.keys"]),
    ("pipeline", ["bon.pipeline", "bon.dry_run"]),
    # entry points: the Hydra app and the thin CLIs beside it
    ("entry", ["bon.run", "bon.check_judge", "bon.merge", "bon.sweep"]),
]
RANK = {prefix: i for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes}
NAME = [name for name, _ in LAYERS]
PIPELINE_MAX_LINES = 150
MODULE_MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(BON.rglob("*.py")) if "__pycache__" not in p.parts}


def layer(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 1 if len(parts) > 1 else 0, -1):  # "bon" places bon/__init__ only, not all of bon
        if ".".join(parts[:n]) in RANK:
            return RANK[".".join(parts[:n])]
    return None


def imports(module: str) -> dict[str, int]:
    """The bon modules ``module`` imports (at any depth of its code), each with the line of its first import."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from bon import keys` imports the module bon.keys; `from bon.data import load`, the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in MODULES:  # import bon.scoring.engine.Group-like names: the module that holds them
                t = t.rpartition(".")[0]
            if t and t.split(".")[0] == "bon" and t != module:
                out.setdefault(t, node.lineno)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def where(a: str, b: str) -> str:
    return f"{MODULES[a].relative_to(ROOT)}:{GRAPH[a][b]}: {a} imports {b}"


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if layer(m) is None]
    assert not unplaced, f"modules in no layer (add each to LAYERS in {Path(__file__).name}): {unplaced}"


def test_no_import_cycles():
    cycles, state = [], {}  # state: 1 on the current path, 2 done

    def visit(m, path):
        state[m] = 1
        for dep in GRAPH[m]:
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(
        " -> ".join(c) + "\n    " + "\n    ".join(where(a, b) for a, b in zip(c, c[1:])) for c in cycles)


def test_imports_run_down_the_layers():
    up = [f"{where(a, b)} ({NAME[layer(a)]} -> {NAME[layer(b)]})" for a in sorted(MODULES) for b in GRAPH[a]
          if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)]
    assert not up, "imports from a lower layer up to a higher one:\n" + "\n".join(up)


def test_chat_imports_nothing_from_scoring():
    bad = [where("bon.chat", b) for b in GRAPH["bon.chat"] if b.split(".")[:2] == ["bon", "scoring"]]
    assert not bad, bad


def test_samplers_and_pms_do_not_import_each_other():
    bad = [where(a, b) for a in MODULES for b in GRAPH[a]
           if {a.split(".")[1], b.split(".")[1]} == {"sampling", "scoring"}]
    assert not bad, "scoring/ and sampling/ share vLLM's set-up through bon/runtime.py only:\n" + "\n".join(bad)


def test_entry_points_do_not_import_each_other():
    """run.py and the thin CLIs beside it share what they need through the layers below (e.g. bon.config's
    CONF_PACKAGE), not through each other."""
    entry = RANK["bon.run"]
    bad = [where(a, b) for a in MODULES for b in GRAPH[a] if layer(a) == entry and layer(b) == entry]
    assert not bad, bad


def test_pipeline_is_short():
    n = len((BON / "pipeline.py").read_text().splitlines())
    assert n <= PIPELINE_MAX_LINES, f"bon/pipeline.py has {n} lines; at most {PIPELINE_MAX_LINES}: the stages live " \
                                    "in bon/stages/"


def test_no_module_is_long():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values()
            if (n := len(p.read_text().splitlines())) > MODULE_MAX_LINES}
    assert not long, f"modules over {MODULE_MAX_LINES} lines: {long}"
