"""The package layout explains the design: imports run one way, storage stays in ``store``.

app -> ingest -> (net, extract, store) -> (config, parse, model, errors). Read from the source
with ``ast`` (imports inside functions count too), so a shortcut across layers fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "worker"
BOTTOM = {"errors", "model"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "model": set(),
    "__init__": set(),
    "config": {"errors"},
    "parse": {"errors"},
    "net": {"config", "parse", "errors"},
    "extract": {"parse", "model", "errors"},
    "store": {"config", "parse", "model", "errors"},
    "ingest": {"net", "extract", "store", "config", "parse", "model", "errors"},
    "app": {"ingest", "net", "extract", "store", "config", "parse", "model", "errors", "__init__"},
    "__main__": {"app"},
}
MAX_LINES = 330


def _layer(module: str) -> str:
    """``worker.net.fetcher`` -> ``net``; ``worker`` itself (its version) -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _dotted(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of our own package in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _dotted(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module == "worker":  # from worker import x: x is the module imported
                found += [(node.lineno, f"worker.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, module))
    return [(line, name) for line, name in found if name == "worker" or name.startswith("worker.")]


def _layer_of_file(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def test_every_module_belongs_to_a_known_layer() -> None:
    assert {_layer_of_file(p) for p in _modules()} <= set(ALLOWED)


def test_imports_run_one_way() -> None:
    wrong = []
    for path in _modules():
        layer = _layer_of_file(path)
        for line, module in _imports(path):
            target = _layer(module)
            if module == "worker.__version__" or target == "__version__":
                target = "__init__"
            if target != layer and target not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {layer} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_the_rule_catches_an_import_against_it(tmp_path: Path) -> None:
    # The check above must be able to fail: a parser importing the network is refused.
    fake = tmp_path / "worker" / "parse" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from worker.net.fetcher import Fetcher\nfrom . import feeds\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "worker"
    try:
        imports = _imports(fake)
    finally:
        PACKAGE = saved
    assert imports == [(1, "worker.net.fetcher"), (2, "worker.parse")]
    assert "net" not in ALLOWED["parse"]


@pytest.mark.parametrize("lower", sorted(BOTTOM | {"config", "parse"}))
def test_the_bottom_layers_import_nothing_above_them(lower: str) -> None:
    assert not ALLOWED[lower] & {"net", "extract", "store", "ingest", "app"}


def test_storage_details_stay_in_store() -> None:
    """Nothing outside ``store`` knows SQLite, builds archive paths or opens raw pages."""
    leaks = []
    for path in _modules():
        if _layer_of_file(path) == "store":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] == "sqlite3" for n in names):
                    leaks.append(f"{path.name}:{node.lineno}: imports sqlite3")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if ".html.gz" in node.value:
                    leaks.append(f"{path.name}:{node.lineno}: names raw page files")
            elif isinstance(node, ast.Attribute) and node.attr in ("glob", "rglob"):
                leaks.append(f"{path.name}:{node.lineno}: globs the file system")
    assert not leaks, "\n".join(leaks)


def test_no_module_is_past_the_size_where_a_seam_shows() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long
