"""The package's layering, as src/first1000's docstrings and README "Development" state it.

Every import statement counts, also those inside functions: a lazy import hides a
dependency from a reader, not from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "first1000"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The first1000 modules (and the outside top-level packages) ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from first1000.stats import ewas` imports a module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    out = set()
    for target in found:
        if target.startswith("first1000"):
            # a module, or the package whose __init__ it runs
            while target not in MODULES:
                target = target.rpartition(".")[0]
            out.add(target)
        else:
            out.add(target.split(".")[0])
    out.discard(name)
    return out


GRAPH = {name: _imports(name) for name in MODULES}


def _internal(name: str) -> set[str]:
    return {m for m in GRAPH[name] if m.startswith("first1000")}


def _under(prefix: str) -> list[str]:
    return [m for m in MODULES if m == prefix or m.startswith(prefix + ".")]


def test_the_graph_is_read():
    assert len(MODULES) > 50
    assert "first1000.stats.regression" in GRAPH["first1000.analysis.associations"]
    assert "statsmodels" in GRAPH["first1000.stats.regression"]


def test_stats_imports_nothing_of_the_package_but_errors():
    for name in _under("first1000.stats"):
        other = {m for m in _internal(name) if not m.startswith("first1000.stats")} - {"first1000.errors"}
        assert not other, f"{name} imports {sorted(other)}"


def test_stats_reads_no_files():
    """The engines take arrays and tables; reading matrices is first1000.io's job."""
    for name in _under("first1000.stats"):
        # threading marks a reader thread, except in stats.blas: its lock keeps one BLAS
        # thread limit per process while a fit's products run (#19)
        banned = {"pyarrow", "openpyxl", "python_calamine", "queue"} | (set() if name == "first1000.stats.blas" else {"threading"})
        assert not GRAPH[name] & banned, name


def test_figures_never_import_the_models():
    """Figures draw result tables: no statistics engine, no analysis, no refit."""
    for name in _under("first1000.figures"):
        banned = {m for m in _internal(name) if m.startswith(("first1000.stats", "first1000.analysis"))}
        assert not banned, f"{name} imports {sorted(banned)}"
        assert not GRAPH[name] & {"statsmodels", "sklearn", "pingouin"}, name


def test_harmonisation_does_not_import_mechanisms_and_ingest_does_not_harmonise():
    for name in _under("first1000.harmonise"):
        assert not any(m.startswith("first1000.mechanisms") for m in _internal(name)), name
    assert not any(m.startswith("first1000.harmonise") for m in _internal("first1000.ingest"))


def test_nothing_imports_snakemake():
    for name in MODULES:
        assert "snakemake" not in GRAPH[name], name


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: each is one module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(_internal(v)):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert not cycles, cycles


def test_stages_never_load_the_config():
    """A job gets its config slice through its rule's params (first1000.stages)."""
    for name in _under("first1000.stages"):
        text = MODULES[name].read_text(encoding="utf-8")
        assert "load_config" not in text, name
        assert "first1000.preflight" not in _internal(name), name


@pytest.mark.parametrize("name", ["first1000.stats.ewas", "first1000.figures.mechanism"])
def test_each_check_fails_on_a_planted_violation(name, monkeypatch):
    """The checks above can fail: a planted import is seen."""
    planted = dict(GRAPH)
    planted[name] = GRAPH[name] | {"first1000.analysis.associations"}
    monkeypatch.setitem(globals(), "GRAPH", planted)
    with pytest.raises(AssertionError):
        if name.startswith("first1000.stats"):
            test_stats_imports_nothing_of_the_package_but_errors()
        else:
            test_figures_never_import_the_models()
