"""A guided lesson: the six ideas in order, each opening the right page with the right settings."""

from dataclasses import dataclass

import streamlit as st

from pages.common.frame import close_page_frame, page_frame
from pages.common.i18n import t
from pages.common.links import linked


@dataclass(frozen=True)
class View:
    """A view a step opens: a page and its link settings."""

    page: str
    params: dict


@dataclass(frozen=True)
class Step:
    """One step: its key in the catalogue (title, idea, what to look at, a question, a hint: lesson.toml), the view
    that shows it, and a second view (its link's words: the step's `also`) if it has one."""

    key: str
    view: View
    also: View | None = None

    def words(self, part: str) -> str:
        """The step's title, idea, look, question, hint or also, in the session's language."""
        return t(f"lesson.{self.key}.{part}")


STEPS = (
    Step("sparse", View("pages/3_receptive_fields.py",
                        {"model": "lenet5-digits", "sparse_n": "8", "sparse_k": "3", "sparse_stride": "1",
                         "sparse_padding": "0", "rf_layer": "conv2"}),
         also=View("pages/2_feature_maps.py",
                   {"model": "lenet5-mnist", "features_layer": "conv1", "conv_channel_conv1": "0",
                    "conv_row_conv1": "14", "conv_col_conv1": "14"})),
    Step("sharing", View("pages/4_parameter_sharing.py",
                         {"eq_network": "toy", "eq_padding": "circular",
                          "eq_stride": "1", "eq_pool": "none", "eq_dy": "2", "eq_dx": "3"})),
    Step("pooling", View("pages/5_pooling.py",
                         {"model": "lenet5-digits", "pool_kind": "max", "pool_kernel": "2", "pool_stride": "2",
                          "pool_transform": "translate", "pool_over": "test_images"})),
    Step("textcnn", View("pages/6_text_cnn.py",
                         {"model": "textcnn-sentiment", "text_example": "the plot was not good at all"})),
    Step("resnet", View("pages/7_resnet.py",
                        {"resnet_activation": "relu", "resnet_batch_norm": "false", "resnet_init": "default",
                         "resnet_block": "post", "resnet_depth": "20", "resnet_width": "1.0",
                         "resnet_dataset": "digits"})),
    Step("attributions", View("pages/9_attributions.py",
                              {"model": "lenet5-mnist", "attr_layer": "relu2", "attr_baseline": "black"})),
)
KEYS = [step.key for step in STEPS]


def go(offset: int) -> None:
    """Move to the previous or next step."""
    index = KEYS.index(st.session_state["lesson_step"]) + offset
    st.session_state["lesson_step"] = KEYS[max(0, min(index, len(KEYS) - 1))]


frame = page_frame()
st.title(t("lesson.title"))
st.caption(t("lesson.caption"))

# Streamlit forgets a widget's value on the pages that do not show it: keep the step across visits.
if "lesson_step" not in st.session_state:
    st.session_state["lesson_step"] = st.session_state.get("lesson_at", KEYS[0])
# A radio, not a segmented control: AppTest loses a segmented control's value whose labels are formatted.
key = st.radio(t("lesson.step"), KEYS, format_func=lambda k: STEPS[KEYS.index(k)].words("title"), horizontal=True,
               key=linked("lesson_step", choices=KEYS))
st.session_state["lesson_at"] = key
index = KEYS.index(key)
step = STEPS[index]
st.subheader(t("lesson.heading", number=index + 1, title=step.words("title")))
st.markdown(step.words("idea"))
st.page_link(step.view.page, label=t("lesson.open", number=index + 1), icon=":material/arrow_forward:",
             query_params=step.view.params)
if step.also is not None:
    st.page_link(step.also.page, label=step.words("also"), icon=":material/arrow_forward:",
                 query_params=step.also.params)
st.markdown(t("lesson.look", look=step.words("look")))
st.info(t("lesson.think", question=step.words("question")), icon=":material/help:")
with st.expander(t("lesson.hint")):
    st.markdown(step.words("hint"))
back, forward = st.columns(2)
back.button(t("lesson.previous"), on_click=go, args=(-1,), disabled=index == 0, icon=":material/arrow_back:",
            key="lesson_back")
forward.button(t("lesson.next"), on_click=go, args=(1,), disabled=index == len(STEPS) - 1,
               icon=":material/arrow_forward:", key="lesson_next")

close_page_frame(frame)
