"""The cnnviz package: no UI imports, and a documented public API."""

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cnnviz

PACKAGE_DIR = Path(cnnviz.__file__).parent
SUBMODULES = sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="cnnviz."))


def test_submodules_are_found():
    assert {"cnnviz.data", "cnnviz.data.images", "cnnviz.data.text", "cnnviz.models", "cnnviz.models.files",
            "cnnviz.models.training", "cnnviz.models.zoo", "cnnviz.analysis", "cnnviz.analysis.receptive_field",
            "cnnviz.plots", "cnnviz.plots.training"} <= set(SUBMODULES)


def test_importing_cnnviz_and_every_submodule_does_not_import_streamlit():
    code = ("import importlib, sys\n"
            f"for name in ['cnnviz'] + {SUBMODULES!r}:\n"
            "    importlib.import_module(name)\n"
            "    assert 'streamlit' not in sys.modules, name\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE_DIR.parent, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_subprocess_check_can_see_streamlit():
    """Control: the check above would notice an import of streamlit (installed for the app)."""
    if importlib.util.find_spec("streamlit") is None:
        pytest.skip("streamlit is not installed")
    done = subprocess.run([sys.executable, "-c", "import streamlit, sys; print('streamlit' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True", done.stderr


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_sources_do_not_mention_streamlit_imports(path):
    text = path.read_text()
    assert not re.search(r"^\s*(import|from)\s+streamlit\b", text, re.MULTILINE)
    assert "__import__(\"streamlit" not in text and "import_module(\"streamlit" not in text


def test_all_names_exist_once():
    assert len(cnnviz.__all__) == len(set(cnnviz.__all__))
    missing = [name for name in cnnviz.__all__ if not hasattr(cnnviz, name)]
    assert missing == []


def own_docstring(obj) -> str | None:
    doc = obj.__doc__
    if inspect.isclass(obj) and doc and re.match(rf"{obj.__name__}\(", doc):
        return None  # the signature dataclasses write when a class has no docstring
    return doc


@pytest.mark.parametrize("name", cnnviz.__all__)
def test_public_functions_and_classes_have_docstrings(name):
    obj = getattr(cnnviz, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        assert obj.__module__.startswith("cnnviz."), obj.__module__
        doc = own_docstring(obj)
        assert doc and len(doc.strip()) > 10, f"{name} has no docstring"


def test_plots_names_have_docstrings():
    plots = importlib.import_module("cnnviz.plots")
    for name in plots.__all__:
        assert getattr(plots, name).__doc__, name


@pytest.mark.parametrize("name", SUBMODULES)
def test_every_module_has_a_docstring(name):
    assert importlib.import_module(name).__doc__


def test_pip_install_makes_cnnviz_importable_outside_the_checkout(tmp_path):
    """A page's "Reproduce this figure" code must run in a notebook anywhere, zoo checkpoints included."""
    import shutil

    source = tmp_path / "source"
    shutil.copytree(PACKAGE_DIR, source / "cnnviz", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PACKAGE_DIR.parent / name, source / name)
    target = tmp_path / "site"
    # No build isolation and no dependencies: nothing is downloaded; the installed torch etc. serve.
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "notebook"
    elsewhere.mkdir()
    code = ("import cnnviz, cnnviz.plots\n"
            "trained = cnnviz.load_zoo_model('lenet5-digits')\n"
            "print(cnnviz.__file__.startswith(%r), trained.parameters)\n" % str(target))
    ran = subprocess.run([sys.executable, "-c", code], cwd=elsewhere, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["True", "61706"]
