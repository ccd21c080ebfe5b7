"""Shareable views: a page keeps its settings in its URL, so a copied link opens the same view.

A page wraps each widget key that belongs in the link with `linked(key, ...)`,
saying which values are valid (the options, a range, on/off, free text). The
first time a session meets the widget, a valid value from the URL becomes the
widget's value; an invalid or stale one is skipped with a notice and the default
stays. `close_page_frame` then writes every linked widget's current value back
into the URL (`write_link`), together with the model when it is a zoo model.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

import streamlit as st

_LINKED = "link_keys"          # widget keys linked in this run of the page, in order
_NOTICES = "link_notices"      # settings from the URL that could not be used, for the notice
_MAX_TEXT = 500                # longest free text a link may carry
MODEL_PARAM = "model"          # the zoo model a link opens with


def start_link() -> None:
    """Forget the previous run's linked keys (page_frame calls this first)."""
    st.session_state[_LINKED] = []
    st.session_state[_NOTICES] = []


def _encode(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(raw: str, *, choices: Sequence | None, low: float | None, high: float | None,
            text: bool) -> tuple[bool, object, str]:
    """(ok, value, why not) for one URL value."""
    if choices is not None:
        for choice in choices:
            if _encode(choice) == raw:
                return True, choice, ""
        shown = ", ".join(_encode(c) for c in list(choices)[:8]) + (", ..." if len(choices) > 8 else "")
        return False, None, f"not one of {shown}"
    if text:
        return (True, raw, "") if len(raw) <= _MAX_TEXT else (False, None, f"longer than {_MAX_TEXT} characters")
    if low is None or high is None:
        if raw in ("true", "false"):
            return True, raw == "true", ""
        return False, None, "not true or false"
    try:
        value = int(raw) if isinstance(low, int) and isinstance(high, int) else float(raw)
    except ValueError:
        return False, None, "not a number"
    if not low <= value <= high:
        return False, None, f"outside {low} to {high}"
    return True, value, ""


def linked(key: str, *, choices: Sequence | None = None, low: float | None = None, high: float | None = None,
           text: bool = False) -> str:
    """Make widget `key` part of the page's link and return the key, for `key=linked(...)`.

    Say what is valid: `choices` (the widget's options), `low`/`high` (a number
    range; ints give an int), `text=True` (free text); with none of them the value
    is on/off. A URL value is used only the first time the session meets the widget.
    """
    st.session_state.setdefault(_LINKED, []).append(key)
    raw = st.query_params.get(key)
    if raw is not None and key not in st.session_state and f"{key}__from_link" not in st.session_state:
        st.session_state[f"{key}__from_link"] = True  # once: later runs keep what the user chose
        ok, value, why = _decode(raw, choices=choices, low=low, high=high, text=text)
        if ok:
            st.session_state[key] = value
        else:
            st.session_state.setdefault(_NOTICES, []).append(f"{key}={raw[:40]} ({why})")
    return key


def link_notice(message: str) -> None:
    """Record a link setting that could not be used (for settings that are not widgets, e.g. the model)."""
    st.session_state.setdefault(_NOTICES, []).append(message)


def link_params(model_key: str | None) -> dict[str, str]:
    """The current view as URL parameters: the zoo model (if it is one) and every linked widget's value."""
    params = {MODEL_PARAM: model_key} if model_key else {}
    for key in st.session_state.get(_LINKED, []):
        if key in st.session_state and st.session_state[key] is not None:
            params[key] = _encode(st.session_state[key])
    return params


def write_link(model_key: str | None, notice_slot) -> None:
    """Put the view into the URL, show the share box in the sidebar, and say what a link could not restore."""
    params = link_params(model_key)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
    notices = st.session_state.get(_NOTICES, [])
    if notices:
        notice_slot.warning("Some settings in the link did not fit this view, so defaults are shown for them: "
                            + "; ".join(notices) + ".", icon=":material/link_off:")
    base = (st.context.url or "").split("?")[0]
    with st.sidebar.expander("Share this view", icon=":material/link:"):
        st.caption("This link opens this page with these settings (copy it with the button at its right).")
        st.code(f"{base}?{urlencode(params)}" if params else base, language=None, wrap_lines=True)
        if not model_key:
            st.caption("A model you trained or uploaded cannot travel in a link: download its file on "
                       "**Train / load** and hand it out with the link.")
