"""The words of the frame around every page that are built from numbers (the rest: `t("frame. ...")`)."""

from __future__ import annotations

from cnnviz import Settings
from pages.common.i18n import t


def no_test_images(what: str, dataset: str) -> str:
    """Why an option that needs the model's own test images is not offered (`dataset` markdown-safe)."""
    return t("frame.notes.no_test_images", what=what, dataset=dataset)


def link_notices(notices: list[str]) -> str:
    """The warning over a page opened with link settings it could not use (`notices` markdown-safe)."""
    return t("frame.share.notices", notices="; ".join(notices))


def hosted_limits(settings: Settings) -> str:
    """The sidebar's note of a hosted demo's limits."""
    return t("frame.notes.hosted_limits", epochs=settings.max_epochs, steps=settings.max_steps,
             depth=settings.max_depth, attribution_steps=settings.max_attribution_steps,
             samples=settings.max_samples, upload_mb=settings.max_upload_mb, trainings=settings.max_trainings)


def model_facts(dataset: str, accuracy: float | None, parameters: int, shape: str) -> str:
    """The model panel's facts (`dataset` markdown-safe), one a line."""
    measured = t("frame.panel.not_measured") if accuracy is None else f"{accuracy:.1%}"
    return t("frame.panel.facts", dataset=dataset, accuracy=measured, parameters=parameters, shape=shape)


def text_input_shape(max_length: int, vocabulary: int) -> str:
    """What a text model reads, for the model panel."""
    return t("frame.panel.text_input", max_length=max_length, vocabulary=vocabulary)


def waiting_candidate(status: str, epochs: int) -> str:
    """The model panel's note of a run that ended early and was not made current."""
    return t("frame.panel.waiting", status=t(f"frame.status.{status}"), epochs=epochs)
