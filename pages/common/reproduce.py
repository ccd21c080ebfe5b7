"""Reproduce this figure: the figure as HTML, its settings as JSON and the Python that redraws it.

Each page builds its snippet from the same settings it used for the figure, with
`model_code` and `input_code` for the usual first lines, and hands it to
`reproduce_panel`. The snippet uses only the public cnnviz API (no file of the checkout, no
path relative to it), builds the figure in `fig` and ends with `fig.show()`, so the downloaded
file runs from any folder once cnnviz is installed; the tests run every page's snippet and
compare the figures, and tests/test_package.py runs one on an installed copy, outside the checkout.
"""

from __future__ import annotations

import json
import textwrap

import plotly.graph_objects as go
import streamlit as st

from pages.common.i18n import t
from pages.common.inputs import PickedInput
from pages.common.links import link_params
from pages.common.session import current_zoo_key

_IMPORTS = "import cnnviz\nimport cnnviz.plots\n"


def model_code(*, text: bool = False) -> str:
    """The line that gives `trained`: the zoo model by name, or the user's own model file."""
    key = current_zoo_key(text=text)
    if key is not None:
        return f"trained = cnnviz.load_zoo_model({key!r})"
    return ('trained = cnnviz.load_model("my-model.safetensors")  '
            "# your model: download its file on Train / load")


def input_code(picked: PickedInput) -> str:
    """The line that gives `image`, the input (C, H, W) in [0, 1]."""
    if picked.code is not None:
        return f"image = {picked.code}"
    return ("image = ...  # your image as a (C, H, W) float array in [0, 1], e.g. "
            "cnnviz.to_model_input(cnnviz.decode_image(open('my.png', 'rb').read()), trained.info.preprocessing)")


def snippet(*lines: str) -> str:
    """A runnable snippet: the imports, then `lines` (dedented, blank lines kept), which end with the
    figure in `fig`, then `fig.show()`."""
    body = "\n".join(textwrap.dedent(line).strip("\n") for line in lines)
    return _IMPORTS + "\n" + body + "\nfig.show()\n"


def reproduce_panel(fig: go.Figure, code: str, *, name: str, text: bool = False) -> None:
    """An expander with the code that redraws `fig` and downloads of the figure, its settings and the code."""
    settings = {"page": name, **link_params(current_zoo_key(text=text))}
    with st.expander(t("frame.reproduce.title"), icon=":material/code:"):
        st.caption(t("frame.reproduce.note"))
        st.code(code, language="python", wrap_lines=True)
        html, settings_file, script = st.columns(3)
        # The HTML (with plotly.js inside, so it opens offline) is built only when asked for.
        html.download_button(t("frame.reproduce.html"), lambda: fig.to_html(include_plotlyjs=True),
                             file_name=f"{name}.html", mime="text/html", on_click="ignore", key=f"{name}_html",
                             icon=":material/download:")
        settings_file.download_button(t("frame.reproduce.json"), json.dumps(settings, indent=2),
                                      file_name=f"{name}.json", mime="application/json", on_click="ignore",
                                      key=f"{name}_json", icon=":material/download:")
        script.download_button(t("frame.reproduce.code"), code, file_name=f"{name}.py", mime="text/x-python",
                               on_click="ignore", key=f"{name}_py", icon=":material/download:")
