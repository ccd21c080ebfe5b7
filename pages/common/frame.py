"""The frame around every page: navigation, page settings and the current-model panel.

app.py runs the navigation; each page opens with `page_frame()` and closes with
`close_page_frame()`. In a new server process Streamlit treats a folder named
pages/ as an old-style multipage app until st.navigation is first called, so a
first visit straight to a page's URL runs that page without app.py (and AppTest
does so on every run). The frame then installs the navigation itself, so the
page looks and works the same either way.
"""

from dataclasses import dataclass
from typing import Any

import streamlit as st

from cnnviz import ZOO, is_text_spec, lossless_weights_dtype, model_to_bytes
from cnnviz.safe_text import as_markdown_text, shorten
from pages.common import words_frame as words
from pages.common.i18n import choose_language, phrase, settle_language, t
from pages.common.links import (
    MODEL_PARAM,
    link_notice,
    open_share_box,
    start_link,
    write_link,
)
from pages.common.runs import last_result, settle_interrupted_run
from pages.common.session import (
    app_settings,
    current_model,
    current_reason,
    current_text_model,
    current_zoo_key,
    previous_model,
    set_current_model,
    set_current_text_model,
    switch_back,
    zoo_copy,
)


@dataclass(frozen=True)
class PageFrame:
    """What `page_frame` opened: the sidebar slot of the model panel, which model it shows, and a
    slot at the top of the page for notices about the link the page was opened with."""

    slot: Any
    text: bool
    notice: Any


_ENTRY = "entered_through_app"  # set by app.py on each run, taken by the page it runs
_SEEN = "session_started"
PAGE_CONFIG = {"page_title": "cnnviz", "page_icon": ":material/grid_on:", "layout": "wide"}


def navigation_pages() -> list:
    """Every page of the app, in menu order; a page's url path is its file name without its number (the numbers
    follow the order the pages were written in: Attributions, the ninth, sits with the other image pages)."""
    from pages.common.home import (
        home,  # home opens with page_frame: import it only when needed
    )

    return [
        st.Page(home, title=t("frame.menu.home"), icon=":material/home:", default=True),
        st.Page("pages/1_train.py", title=t("frame.menu.train"), icon=":material/model_training:", url_path="train"),
        st.Page("pages/2_feature_maps.py", title=t("frame.menu.feature_maps"), icon=":material/grid_view:",
                url_path="feature_maps"),
        st.Page("pages/3_receptive_fields.py", title=t("frame.menu.receptive_fields"),
                icon=":material/center_focus_strong:", url_path="receptive_fields"),
        st.Page("pages/4_parameter_sharing.py", title=t("frame.menu.parameter_sharing"), icon=":material/open_with:",
                url_path="parameter_sharing"),
        st.Page("pages/5_pooling.py", title=t("frame.menu.pooling"), icon=":material/compress:", url_path="pooling"),
        st.Page("pages/9_attributions.py", title=t("frame.menu.attributions"), icon=":material/highlight:",
                url_path="attributions"),
        st.Page("pages/6_text_cnn.py", title=t("frame.menu.text_cnn"), icon=":material/text_fields:",
                url_path="text_cnn"),
        st.Page("pages/7_resnet.py", title=t("frame.menu.resnet"), icon=":material/trending_down:", url_path="resnet"),
        st.Page("pages/8_lesson.py", title=t("frame.menu.lesson"), icon=":material/school:", url_path="lesson"),
    ]


def page_for_path(url_path: str):
    """The page of the app at `url_path` ("" is Home), or None."""
    return next((page for page in navigation_pages() if page.url_path == url_path), None)


def run_app() -> None:
    """app.py: configure the page and run the one the URL asks for."""
    st.set_page_config(**PAGE_CONFIG)
    settle_language()  # before the menu, whose titles are words too
    navigation = st.navigation(navigation_pages())
    st.session_state[_ENTRY] = True
    navigation.run()


def page_frame(*, text: bool = False) -> PageFrame:
    """Open a page: settings, an interrupted training run settled, the model panel in the sidebar
    (the TextCNN page passes `text` to show its text model). Pass the result to `close_page_frame`."""
    if not st.session_state.pop(_ENTRY, False):
        st.set_page_config(**PAGE_CONFIG)
        settle_language()
        st.navigation(navigation_pages())  # run without app.py: install the app's menu all the same
        if not st.session_state.get(_SEEN):
            # A new session's first run: start over through app.py, or the widgets made in
            # this run lose the values typed into them before the next one.
            st.session_state[_SEEN] = True
            st.rerun()
    st.session_state[_SEEN] = True
    app_settings()
    settle_interrupted_run()
    incoming = start_link()
    if incoming is not None and MODEL_PARAM in incoming:
        _model_from_link(incoming[MODEL_PARAM])
    choose_language()
    frame = PageFrame(st.sidebar.empty(), text, st.empty())
    sidebar_model_panel(frame.slot, text=text)
    settings = app_settings()
    if settings.hosted:
        st.sidebar.caption(words.hosted_limits(settings))
    open_share_box()
    return frame


def _model_from_link(key: str) -> None:
    """A link's zoo model becomes the session's model (image models for the image pages, text for TextCNN)."""
    if key not in ZOO:
        link_notice(t("frame.share.not_zoo", param=MODEL_PARAM, value=shorten(key, 40), models=", ".join(ZOO)))
        return
    trained = zoo_copy(key)
    if is_text_spec(trained.info.spec) and trained.info.spec.kind != "text_cnn":
        # As for an uploaded file: the TextCNN page looks inside TextCNNs (fastText has no filters).
        link_notice(t("frame.share.not_textcnn", param=MODEL_PARAM, value=shorten(key, 40)))
        return
    if is_text_spec(trained.info.spec):
        if current_zoo_key(text=True) != key:
            set_current_text_model(trained, zoo_key=key, reason=phrase("frame.reason.link"))
    elif current_zoo_key() != key:
        set_current_model(trained, zoo_key=key, reason=phrase("frame.reason.link"))


def close_page_frame(frame: PageFrame) -> None:
    """Close a page: redraw the panel (the page may have changed the model) and write the view's link."""
    sidebar_model_panel(frame.slot, text=frame.text, final=True)
    trained = current_text_model() if frame.text else current_model()
    write_link(current_zoo_key(text=frame.text), frame.notice, lambda view: model_to_bytes(
        trained, view=view, weights_dtype=lossless_weights_dtype(trained)))


def sidebar_model_panel(slot, *, text: bool = False, final: bool = False) -> None:
    """The model a page uses, at a glance, drawn into a sidebar placeholder: the current (image) model,
    or with `text` the TextCNN page's model.

    A page draws it when it opens and again, `final`, when it closes (the page may have
    changed the model); the two draws need their own widget keys."""
    trained = current_text_model() if text else current_model()
    info = trained.info
    with slot.container(border=True):
        st.markdown(t("frame.panel.current_text_model") if text else t("frame.panel.current_model"))
        st.markdown(as_markdown_text(info.name))   # names come from model files: text, not markup
        shape = (words.text_input_shape(info.preprocessing.max_length, len(info.preprocessing.vocabulary)) if text
                 else "×".join(map(str, info.preprocessing.input_shape)))
        st.caption(words.model_facts(as_markdown_text(info.dataset), info.test_accuracy, trained.parameters, shape))
        reason = current_reason(text=text)
        if reason:
            st.caption(t("frame.panel.why", reason=as_markdown_text(reason, limit=200)))   # may name an uploaded file
        previous = previous_model(text=text)
        if previous is not None:
            st.button(t("frame.panel.switch_back", name=as_markdown_text(previous.info.name)),
                      key=f"switch_back_{'text' if text else 'image'}{'' if final else '_early'}",
                      on_click=switch_back, kwargs={"text": text}, icon=":material/undo:",
                      help=t("frame.panel.switch_back_help"))
        waiting = None if text else last_result()
        if waiting and waiting.get("candidate") is not None:
            st.caption(words.waiting_candidate(waiting["status"], len(waiting["history"])))
