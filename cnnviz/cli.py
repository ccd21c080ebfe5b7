"""The `cnnviz` command: `cnnviz app` starts the Streamlit app, `cnnviz zoo` rebuilds the model zoo.

    cnnviz app [--dry-run] [streamlit options ...] [-- script args ...]
    cnnviz zoo [keys ...]

`cnnviz app` runs `python -m streamlit run <app.py>` in a child process (the library never
imports streamlit) with the app's folder as the working directory, so the app's
`.streamlit/config.toml` applies as it does for `streamlit run app.py` in the checkout. Every
argument after `app` except `--dry-run` and `-h/--help` goes to streamlit (`--server.port 8502`).

Where app.py is: a regular install (`pip install .`) ships app.py, pages/ and
.streamlit/config.toml as data under the package, in `cnnviz/_app/` (see pyproject.toml); in the
checkout, and with an editable install (`pip install -e .`), app.py sits beside the package folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

APP_EXTRA_HINT = 'install cnnviz[app]: pip install "cnnviz[app]" (or pip install ".[app]" in the cnnviz checkout)'


class AppNotFoundError(RuntimeError):
    """Neither the installed copy of the app nor a checkout beside the package has app.py and pages/."""


def _is_app_folder(folder: Path) -> bool:
    return (folder / "app.py").is_file() and (folder / "pages" / "common" / "frame.py").is_file()


def app_folder_candidates() -> list[Path]:
    """Where app.py may be, in order: the copy installed under the package, then the checkout around it."""
    package = Path(str(resources.files("cnnviz")))
    return [package / "_app", package.parent]


def find_app(candidates: Sequence[Path] | None = None) -> Path:
    """The path of the app's app.py (with its pages/ beside it).

    Raises AppNotFoundError, naming the places looked at, when there is none.
    """
    candidates = app_folder_candidates() if candidates is None else list(candidates)
    for folder in candidates:
        if _is_app_folder(folder):
            return (folder / "app.py").resolve()
    looked = ", ".join(str(folder) for folder in candidates)
    raise AppNotFoundError(f"cnnviz cannot find its app (app.py with pages/ beside it); looked in: {looked}. "
                           "Reinstall cnnviz (pip install .) or run `streamlit run app.py` in the checkout.")


def streamlit_installed() -> bool:
    """Whether streamlit can be imported by this Python (checked without importing it)."""
    return importlib.util.find_spec("streamlit") is not None


def streamlit_command(app: Path, streamlit_args: Sequence[str] = ()) -> list[str]:
    """The command that starts the app: this Python's streamlit, then the arguments for streamlit."""
    return [sys.executable, "-m", "streamlit", "run", str(app), *streamlit_args]


def split_app_args(args: Sequence[str]) -> tuple[bool, bool, list[str]]:
    """(dry run, help, the arguments for streamlit) from the arguments after `app`.

    Only `--dry-run` and `-h`/`--help` are cnnviz's own; everything else goes to streamlit in order,
    and after a `--` everything goes, `--` included (streamlit's separator for the script's arguments).
    """
    dry_run = show_help = False
    passed: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            passed += args[index:]
            break
        if arg == "--dry-run":
            dry_run = True
        elif arg in ("-h", "--help"):
            show_help = True
        else:
            passed.append(arg)
    return dry_run, show_help, passed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnviz", description="See how convolutional neural networks work.",
                                     allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", metavar="{app,zoo}", required=True)
    commands.add_parser("app", help="start the Streamlit app (needs cnnviz[app])", add_help=False,
                        description="Start the cnnviz Streamlit app. Options other than --dry-run go to "
                                    "`streamlit run`, e.g. cnnviz app --server.port 8502.")
    zoo = commands.add_parser("zoo", help="rebuild the model zoo checkpoints", allow_abbrev=False,
                              description="Rebuild the model zoo checkpoints (deterministic; as "
                                          "`python -m cnnviz.models.zoo`).")
    zoo.add_argument("keys", nargs="*", help="entries to rebuild (default: all)")
    return parser


APP_USAGE = """usage: cnnviz app [--dry-run] [streamlit options ...] [-- script args ...]

Start the cnnviz Streamlit app with `python -m streamlit run <app.py>`.

options:
  -h, --help   show this help and where app.py is, and exit
  --dry-run    print the command that would start the app, and exit
  any other    passed to streamlit, e.g. --server.port 8502 --server.address 0.0.0.0
"""


def run_app(args: Sequence[str]) -> int:
    """`cnnviz app ...`: start streamlit on the app in a child process; its exit status."""
    dry_run, show_help, streamlit_args = split_app_args(args)
    try:
        app = find_app()
    except AppNotFoundError as error:
        if show_help:
            print(APP_USAGE + f"\napp.py: not found ({error})")
            return 0
        print(f"cnnviz: {error}", file=sys.stderr)
        return 1
    command = streamlit_command(app, streamlit_args)
    if show_help:
        print(APP_USAGE + f"\napp.py: {app}")
        return 0
    if dry_run:
        print(f"cd {shlex.quote(str(app.parent))} && {shlex.join(command)}")
        return 0
    if not streamlit_installed():
        print(f"cnnviz: streamlit is not installed, so the app cannot start; {APP_EXTRA_HINT}", file=sys.stderr)
        return 1
    # The app's folder as the working directory: its .streamlit/config.toml applies, as in the checkout.
    server = subprocess.Popen(command, cwd=app.parent)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: server.send_signal(signum))
    try:
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches streamlit too (same process group); let it stop
        return server.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_zoo(keys: Sequence[str]) -> int:
    """`cnnviz zoo ...`: rebuild the zoo (all entries, or those named) into cnnviz/checkpoints/."""
    from cnnviz.models import zoo

    zoo.main(list(keys))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `cnnviz` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "app":
        return run_app(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)  # `app` takes streamlit's options, so it is handled above, unparsed
    if args.command == "zoo":
        from cnnviz.models.zoo import TRAINED_ZOO

        unknown = [key for key in args.keys if key not in TRAINED_ZOO]
        if unknown:
            parser.error(f"unknown zoo entries: {', '.join(unknown)} (known: {', '.join(TRAINED_ZOO)})")
        return run_zoo(args.keys)
    parser.error(f"unknown command {args.command!r}")  # exits
    return 2


if __name__ == "__main__":
    sys.exit(main())
