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
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_subprocess_check_can_see_streamlit():
    """Control: the check above would notice an import of streamlit (installed for the app)."""
    if importlib.util.find_spec("streamlit") is None:
        pytest.skip("streamlit is not installed")
    done = subprocess.run([sys.executable, "-c", "import streamlit, sys; print('streamlit' in sys.modules)"],
                          capture_output=True, text=True, timeout=120, check=False)
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


# --- installed: `pip install .` into a throwaway target, used from a folder outside the checkout ----------------

ROOT = PACKAGE_DIR.parent
# The snippet of the Feature maps page's default view (tests/app runs it from the page itself).
FEATURE_MAPS_SNIPPET = ("trained = cnnviz.load_zoo_model('lenet5-mnist')",
                        "image = cnnviz.load_image_dataset('mnist').x_test[0]",
                        "x = trained.info.preprocessing.apply(image[None])[0]",
                        "maps = cnnviz.feature_maps(trained.model, x, layers=['conv1'])['conv1']",
                        "fig = cnnviz.plots.plot_feature_maps(maps, scale='layer')")
# Runs a downloaded snippet file as `python snippet.py` would, with fig.show() recorded instead of opening a browser.
SNIPPET_RUNNER = """
import runpy, sys
import plotly.graph_objects as go
shown = []
go.Figure.show = lambda fig, *args, **kwargs: shown.append((args, kwargs))
namespace = runpy.run_path(sys.argv[1], run_name="__main__")
assert shown == [((), {})], shown
sys.stdout.write(namespace["fig"].to_json())
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(target, elsewhere): cnnviz built from a copy of the checkout and installed with pip into `target`
    (`pip install --target`, so `target` holds what site-packages would), and an empty folder outside the
    checkout. The env runs Python with only `target` added to sys.path (PYTHONPATH)."""
    import shutil

    tmp = tmp_path_factory.mktemp("installed")
    source = tmp / "source"  # a copy, so the build's egg-info and build/ folders do not land in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PACKAGE_DIR, source / "cnnviz", ignore=ignore)
    shutil.copytree(ROOT / "pages", source / "pages", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "app.py", ".streamlit/config.toml"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    target = tmp / "site"
    # No build isolation and no dependencies: nothing is downloaded; the installed torch etc. serve.
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp / "notebook"
    elsewhere.mkdir()
    return target, elsewhere


def run_installed(installed, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    target, elsewhere = installed
    return subprocess.run(list(args), cwd=elsewhere, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "PYTHONPATH": str(target)})


def test_pip_install_makes_cnnviz_importable_outside_the_checkout(installed):
    """A page's "Reproduce this figure" code must run in a notebook anywhere, zoo checkpoints included."""
    target, _ = installed
    code = ("import importlib.util, cnnviz, cnnviz.plots\n"
            "trained = cnnviz.load_zoo_model('lenet5-mnist')\n"
            "mnist, mr = cnnviz.load_image_dataset('mnist'), cnnviz.load_text_corpus('mr')\n"
            "photo = cnnviz.load_photo('imagenet_00')\n"
            f"print(cnnviz.__file__.startswith({str(target)!r}), trained.parameters,\n"
            "      importlib.util.find_spec('pages'), len(mnist.x_train), len(mr.train_texts), photo.shape[0])\n")
    ran = run_installed(installed, sys.executable, "-c", code)
    assert ran.returncode == 0, ran.stderr
    # the installed copy, with its real data (nothing of the checkout)
    assert ran.stdout.split() == ["True", "61706", "None", "4000", "9511", "512"]


def test_the_install_ships_the_checkpoints_and_the_app_and_nothing_else_of_the_checkout(installed):
    target, _ = installed
    assert sorted(p.name for p in target.iterdir()) == ["bin", "cnnviz", "cnnviz-0.2.0.dist-info"]
    shipped = target / "cnnviz"
    assert {p.name for p in (shipped / "checkpoints").iterdir()} == {
        p.name for p in (PACKAGE_DIR / "checkpoints").glob("*.safetensors")}
    app = shipped / "_app"
    assert sorted(p.name for p in app.iterdir() if p.name != "__pycache__") == [".streamlit", "app.py", "pages"]
    assert (app / ".streamlit" / "config.toml").read_text() == (ROOT / ".streamlit" / "config.toml").read_text()
    pages = {p.relative_to(app).as_posix() for p in (app / "pages").rglob("*.py")}
    assert pages == {p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").rglob("*.py")}
    assert not (app / "__init__.py").exists()  # so walking the library (pkgutil) never reaches the app


def test_a_downloaded_snippet_runs_outside_the_checkout(installed):
    """A snippet as reproduce.snippet() writes it, saved to a file in a folder outside the checkout, runs with
    `python snippet.py` on the installed package, shows its figure once and draws what the checkout draws."""
    pytest.importorskip("streamlit")
    import json
    from unittest import mock

    import plotly.graph_objects as go

    from pages.common.reproduce import snippet
    from tests.conftest import assert_same_figure_data

    code = snippet(*FEATURE_MAPS_SNIPPET)
    assert code.endswith("fig.show()\n")
    _, elsewhere = installed
    (elsewhere / "feature_maps.py").write_text(code)
    ran = run_installed(installed, sys.executable, "-c", SNIPPET_RUNNER, "feature_maps.py")
    assert ran.returncode == 0, ran.stderr
    namespace: dict = {}
    with mock.patch.object(go.Figure, "show"):
        exec(compile(code, "<snippet>", "exec"), namespace)  # noqa: S102 (our own snippet, as tests/app do)
    expected = json.loads(namespace["fig"].to_json())["data"]
    assert [trace["type"] for trace in expected] == ["heatmap"]  # conv1's 6 channels, tiled in one heatmap
    assert_same_figure_data(json.loads(ran.stdout)["data"], expected)


def test_the_installed_cnnviz_command_finds_the_installed_app(installed):
    target, _ = installed
    app = target / "cnnviz" / "_app" / "app.py"
    ran = run_installed(installed, str(target / "bin" / "cnnviz"), "app", "--dry-run", "--server.port", "8502")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == (f"cd {app.parent} && {sys.executable} -m streamlit run {app} "
                                  "--server.port 8502")
    ran = run_installed(installed, sys.executable, "-m", "cnnviz.cli", "app", "--help")
    assert ran.returncode == 0, ran.stderr
    assert f"app.py: {app}" in ran.stdout


def test_cnnviz_app_starts_the_installed_app(installed):
    """The installed app's script runs (AppTest on its app.py) and `cnnviz app` serves it."""
    pytest.importorskip("streamlit")
    import socket
    import time
    import urllib.request

    target, _ = installed
    app = target / "cnnviz" / "_app" / "app.py"
    code = ("import sys\n"
            "from streamlit.testing.v1 import AppTest\n"
            f"at = AppTest.from_file({str(app)!r}, default_timeout=120).run()\n"
            "assert not at.exception, at.exception\n"
            "print(sys.modules['pages.common.frame'].__file__)\n"
            "print([c.value for c in at.code if c.language == 'python'][0].splitlines()[-1])\n")
    ran = run_installed(installed, sys.executable, "-c", code)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [str(app.parent / "pages" / "common" / "frame.py"), "fig.show()"]

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen([str(target / "bin" / "cnnviz"), "app", "--server.port", str(port),
                               "--server.address", "127.0.0.1"], cwd=installed[1], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(target)})
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None and health is None:
            try:
                health = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read()
            except OSError:
                time.sleep(0.3)
        assert health == b"ok", server.poll()
    finally:
        server.terminate()  # cnnviz passes SIGTERM on to streamlit
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert f"127.0.0.1:{port}" in output and "Stopping..." in output  # streamlit stopped on the SIGTERM
