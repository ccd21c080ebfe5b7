"""Shareable views: a page keeps its settings in its URL, so a copied link opens the same view.

A page wraps each widget key that belongs in the link with `linked(key, ...)`,
saying which values are valid (the options, a range, on/off, free text).
`close_page_frame` writes every linked widget's current value into the URL
(`write_link`), with the model when it is a zoo model. When a run starts with a
URL that differs from the one the session last wrote, on a page other than the
last run's, the URL came from outside (a copied link, the lesson): its valid
values then become the widgets' values, and invalid or stale ones are skipped
with a notice. On the page the last run showed, a differing URL is the browser's
stale copy of an older one (the browser can send a rerun before it has applied
the URL the last run wrote), and applying it would undo what the user just did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from cnnviz.safe_text import as_markdown_text, shorten
from pages.common import words_frame as words
from pages.common.i18n import t
from pages.common.link_values import decode_value, encode_value

_LINKED = "link_keys"          # widget keys linked in this run of the page, in order
_NOTICES = "link_notices"      # settings from the URL that could not be used, for the notice
_WRITTEN = "link_written"      # the URL parameters this session wrote last
_WRITTEN_ON = "link_written_on"  # the page they were written on
_INCOMING = "link_incoming"    # parameters of a URL that came from outside, to apply in this run
_KEPT = "link_kept"            # every linked widget's last value, so a page left and reopened keeps its view
_SHARE_SLOT = "link_share_slot"  # the share box's link element, which a fragment's rerun redraws
_SHARE_BOX = "link_share_box"  # the share box itself, filled by write_link
_DRAWN = "link_drawn"          # the parameters the share box shows in this run
_SHARED_VIEW = "link_shared_view"  # the view the share box's file holds, kept in step by fragments too
MODEL_PARAM = "model"          # the zoo model a link opens with


def start_link() -> dict[str, str] | None:
    """Start a run (page_frame calls this first): the URL's parameters if they came from outside, else None."""
    st.session_state[_LINKED] = []
    st.session_state[_NOTICES] = []
    st.session_state[_SHARE_SLOT] = None  # the last run's share box belongs to that run
    st.session_state[_DRAWN] = None
    params = {key: st.query_params[key] for key in st.query_params}
    from_outside = params != st.session_state.get(_WRITTEN) and _page() != st.session_state.get(_WRITTEN_ON)
    incoming = params if params and from_outside else None
    st.session_state[_INCOMING] = incoming
    return incoming


def _page() -> str | None:
    """The page this run shows (its script's hash)."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else None


def linked(key: str, *, choices: Sequence | None = None, low: float | None = None, high: float | None = None,
           step: float | None = None, text: bool = False, many: bool = False) -> str:
    """Make widget `key` part of the page's link and return the key, for `key=linked(...)`.

    Say what is valid: `choices` (the widget's options), `low`/`high` (a number
    range; ints give an int) with the widget's `step` if it has one, `text=True`
    (free text), `many=True` with `choices` (a multiselect: a list of them); with none of them the value
    is on/off. A URL value is used only in the run that a link from outside starts.
    A page left and opened again shows the values it had (Streamlit forgets the
    state of widgets that a run does not draw).
    """
    st.session_state.setdefault(_LINKED, []).append(key)
    if choices is not None and key in st.session_state and not _fits(st.session_state[key], choices, many):
        del st.session_state[key]  # a value kept from other options (another model's layers): use the default
    kept = st.session_state.get(_KEPT, {})
    if key not in st.session_state and key in kept:
        ok, value, _ = decode_value(encode_value(kept[key]), choices=choices, low=low, high=high, step=step, text=text,
                                    many=many)
        if ok:  # still valid (the model, and so the options, may have changed meanwhile)
            st.session_state[key] = value
    raw = (st.session_state.get(_INCOMING) or {}).get(key)
    if raw is not None:
        ok, value, why = decode_value(raw, choices=choices, low=low, high=high, step=step, text=text, many=many)
        if ok:
            st.session_state[key] = value
        else:
            st.session_state.setdefault(_NOTICES, []).append(f"{key}={shorten(raw, 40)} ({why})")
    return key


def _fits(value: object, choices: Sequence, many: bool) -> bool:
    """Whether a widget's value is one of `choices` (with `many`: a list of them)."""
    if many:
        return isinstance(value, list) and all(item in choices for item in value)
    return value in choices


def from_link(key: str) -> bool:
    """Whether this run was started by a link from outside that sets `key` (to open what the link points at)."""
    return key in (st.session_state.get(_INCOMING) or {})


def link_notice(message: str) -> None:
    """Record a link setting that could not be used (for settings that are not widgets, e.g. the model)."""
    st.session_state.setdefault(_NOTICES, []).append(message)


def link_params(model_key: str | None) -> dict[str, str]:
    """The current view as URL parameters: the zoo model (if it is one) and every linked widget's value."""
    params = {MODEL_PARAM: model_key} if model_key else {}
    for key in st.session_state.get(_LINKED, []):
        if key in st.session_state and st.session_state[key] is not None:
            params[key] = encode_value(st.session_state[key])
    return params


def refresh_link(model_key: str | None) -> dict[str, str]:
    """Write the view's parameters into the URL and the share box, and return them.

    A fragment calls this at its own end, since a fragment's rerun skips the rest of
    the page (`write_link` at the page's end does the same for a full run).
    """
    params = _store_view(model_key)
    _draw_link(params)
    return params


def _store_view(model_key: str | None) -> dict[str, str]:
    """The view's parameters, written into the URL and kept for when the page is opened again."""
    params = link_params(model_key)
    kept = st.session_state.setdefault(_KEPT, {})
    kept.update({key: st.session_state[key] for key in st.session_state.get(_LINKED, [])
                 if key in st.session_state and st.session_state[key] is not None})
    if {key: st.query_params[key] for key in st.query_params} != params:
        st.query_params.from_dict(params)
    st.session_state[_WRITTEN] = params
    st.session_state[_WRITTEN_ON] = _page()
    view = st.session_state.get(_SHARED_VIEW)
    if view is not None:
        view["params"] = params  # in place: the share box's download reads this dict
    return params


def _draw_link(params: dict[str, str]) -> None:
    """Show `params` as a link in the share box: it must be the link the address bar shows."""
    slot = st.session_state.get(_SHARE_SLOT)
    if slot is not None:
        base = (st.context.url or "").split("?")[0]
        slot.code(f"{base}?{urlencode(params)}" if params else base, language=None, wrap_lines=True)
        st.session_state[_DRAWN] = params


def open_share_box() -> None:
    """Open the sidebar's share box (page_frame calls this, before any fragment can draw into it)."""
    base = (st.context.url or "").split("?")[0]
    st.session_state[_SHARED_VIEW] = {"page": urlsplit(base).path.strip("/"), "params": {}}
    box = st.sidebar.expander(t("frame.share.box"), icon=":material/link:")
    box.caption(t("frame.share.note"))
    st.session_state[_SHARE_SLOT] = box.empty()
    st.session_state[_SHARE_BOX] = box


def write_link(model_key: str | None, notice_slot, model_file: Callable[[dict], bytes]) -> None:
    """Put the view into the URL, show the share box in the sidebar, and say what a link could not restore.

    `model_file(view)` gives the current model's file with `view` saved in it, for the
    "model and view in one file" download (built only when someone asks for it).
    """
    incoming = st.session_state.get(_INCOMING) or {}
    unused = [key for key in incoming if key != MODEL_PARAM and key not in st.session_state.get(_LINKED, [])]
    for key in unused:
        link_notice(t("frame.share.not_used", key=shorten(key, 40)))
    params = _store_view(model_key)
    # A fragment that drew the link in this run must stay its only writer: Streamlit lets a
    # fragment redraw an outside container on its reruns only if it wrote to it in the full run.
    if st.session_state.get(_DRAWN) != params:
        _draw_link(params)
    st.session_state[_INCOMING] = None  # applied in this run; a fragment's rerun must not apply it again
    notices = st.session_state.get(_NOTICES, [])
    if notices:
        # What a link carries is anyone's text: shown as text, never as markup.
        notice_slot.warning(words.link_notices([as_markdown_text(n, limit=300) for n in notices]),
                            icon=":material/link_off:")
    view = st.session_state[_SHARED_VIEW]
    with st.session_state[_SHARE_BOX]:
        if not model_key:
            st.caption(t("frame.share.no_link_model"))
        st.download_button(t("frame.share.view_file"), lambda: model_file(view),
                           file_name="cnnviz-view.safetensors", mime="application/octet-stream", on_click="ignore",
                           icon=":material/download:", key="link_view_file",
                           help=t("frame.share.view_file_help"))
