"""The library's layers as folders: every import runs down (data < models < analysis < plots), never up.

Each module's imports are read with `ast` (nothing is imported or run), so a lazy import
inside a function or under `TYPE_CHECKING` counts as much as one at the top. The order,
lowest first (DESIGN.md, "Layers"):

    errors, safe_text      0  the base: messages and safe text, imported by every layer
    data/                  1  data sets, preprocessing, tokenizer and vocabulary
    models/                2  specs, builders, costs (budget), training, model files, the zoo
    analysis/, settings    3  compute_X -> XInfo; settings (the app's limits, a models.budget.Budget)
    plots/                 4  plot_X(info) -> figure
    cnnviz/__init__.py     5  the public API, over everything; cli and build (commands) beside it

A module may import from its own layer or from a lower one; settings and analysis share a
rank but not a layer, so neither imports the other. Nothing in cnnviz imports streamlit.
"""

import ast
from pathlib import Path

import pytest

import cnnviz

PACKAGE_DIR = Path(cnnviz.__file__).parent
RANKS = {"errors": 0, "safe_text": 0, "data": 1, "models": 2, "analysis": 3, "settings": 3, "plots": 4,
         "": 5, "cli": 5, "build": 5}
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))
MAX_LINES = 450  # issue 15: a module longer than this is split along its seams


def module_name(path: Path) -> str:
    parts = ["cnnviz", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name: str) -> str:
    """The layer of a module or package of cnnviz: its first part after `cnnviz.` ("" for cnnviz itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported(tree: ast.AST, name: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every module of cnnviz (or streamlit) that the parsed module imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "cnnviz":  # `from cnnviz import data` imports the subpackage; other names come from __init__
                found += [(node.lineno, f"cnnviz.{a.name}" if layer(f"cnnviz.{a.name}") in RANKS else "cnnviz")
                          for a in node.names]
            else:
                found.append((node.lineno, base))
    return [(line, m) for line, m in found if m.split(".")[0] in ("cnnviz", "streamlit")]


def violations(path_name: str, source: str, is_package: bool = False) -> list[str]:
    own = layer(path_name)
    problems = []
    for line, target in imported(ast.parse(source), path_name, is_package):
        if target.split(".")[0] == "streamlit":
            problems.append(f"{path_name}:{line} imports streamlit")
            continue
        other = layer(target)
        if other not in RANKS:
            problems.append(f"{path_name}:{line} imports {target}, which is in no layer")
        elif other != own and RANKS[other] >= RANKS[own]:
            problems.append(f"{path_name}:{line} ({own or 'cnnviz'}) imports {target} ({other or 'cnnviz'}): "
                            "imports run from a higher layer to a lower one only")
    return problems


def test_every_module_sits_in_a_layer():
    assert [module_name(p) for p in MODULES if layer(module_name(p)) not in RANKS] == []
    # Only the base modules, settings and the two commands (the command line and the build of the shipped
    # data, at the top beside __init__) sit beside the folders.
    flat = {module_name(p) for p in MODULES if p.parent == PACKAGE_DIR}
    assert flat == {"cnnviz", "cnnviz.build", "cnnviz.cli", "cnnviz.errors", "cnnviz.safe_text", "cnnviz.settings"}
    for folder in ("data", "models", "analysis", "plots"):
        assert (PACKAGE_DIR / folder / "__init__.py").is_file(), folder


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_imports_run_down_the_layers_and_never_to_streamlit(path):
    assert violations(module_name(path), path.read_text(encoding="utf-8"), path.name == "__init__.py") == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_no_module_is_oversized(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("cnnviz.data.images", "from cnnviz.models.cnn import CNNSpec", "imports run from a higher layer"),
    ("cnnviz.models.cnn", "def f():\n    from cnnviz.analysis.hooks import eval_with_hooks", "higher layer"),
    ("cnnviz.analysis.features", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import cnnviz.plots",
     "higher layer"),
    ("cnnviz.plots.text", "from cnnviz import load_model", "imports cnnviz (cnnviz)"),
    ("cnnviz.analysis.pooling", "from cnnviz import settings", "imports cnnviz.settings"),
    ("cnnviz.settings", "from cnnviz.analysis import features", "imports cnnviz.analysis (analysis)"),
    ("cnnviz.data.text", "from ..plots import features", "imports cnnviz.plots"),
    ("cnnviz.errors", "from cnnviz.data import images", "higher layer"),
    ("cnnviz.plots.features", "import streamlit as st", "imports streamlit"),
    ("cnnviz.analysis.ngrams", "from cnnviz.flat_module import x", "in no layer"),
])
def test_the_check_sees_an_import_up_the_layers(module, source, expected):
    """Control: the check above would notice each kind of wrong import."""
    problems = violations(module, source)
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(("module", "source"), [
    ("cnnviz.plots.text", "from cnnviz.analysis.ngrams import TopNgram\nfrom cnnviz.safe_text import shorten"),
    ("cnnviz.analysis.receptive_field", "from .tracing import trace_isolated\nfrom cnnviz.models.cnn import CNN"),
    ("cnnviz.models.trained", "from cnnviz.data.text import TextDataset\nfrom cnnviz.errors import ModelLoadError"),
    ("cnnviz.settings", "from cnnviz.models.budget import Budget"),
    ("cnnviz", "from cnnviz.plots import plot_pooling\nfrom cnnviz.settings import HOSTED"),
])
def test_the_check_allows_imports_down_the_layers(module, source):
    assert violations(module, source, is_package=module == "cnnviz") == []
