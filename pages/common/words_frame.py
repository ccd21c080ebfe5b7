"""The words of the frame around every page: the sidebar's model panel, the hosted limits, the share box."""

from __future__ import annotations

from cnnviz import Settings

SHARE_NOTE = "This link opens this page with these settings (copy it with the button at its right)."
NO_LINK_MODEL = "A model you trained or uploaded cannot travel in a link: hand out this file instead."
VIEW_FILE_HELP = ("The current model with this page and its settings; loading it on Train / load offers a link "
                  "straight to this view.")
SWITCH_BACK_HELP = "The model this one replaced; switching again returns to this one."


def no_test_images(what: str, dataset: str) -> str:
    """Why an option that needs the model's own test images is not offered (`dataset` markdown-safe)."""
    return (f"{what} needs the model's own test images; those of {dataset} are not shipped with cnnviz, so it is "
            "not offered for this model.")


def link_notices(notices: list[str]) -> str:
    """The warning over a page opened with link settings it could not use (`notices` markdown-safe)."""
    return ("Some settings in the link did not fit this view, so defaults are shown for them: "
            + "; ".join(notices) + ".")


def hosted_limits(settings: Settings) -> str:
    """The sidebar's note of a hosted demo's limits."""
    return (f"**Hosted demo limits:** up to {settings.max_epochs} epochs, {settings.max_steps} ResNet steps, "
            f"depth {settings.max_depth}, {settings.max_attribution_steps} attribution steps, "
            f"{settings.max_samples:,} examples of an online data set or CSV, uploads of {settings.max_upload_mb} MB; "
            f"{settings.max_trainings} trainings run at once, others wait their turn. Run cnnviz on your own "
            "computer for more.")


def model_facts(dataset: str, accuracy: float | None, parameters: int, shape: str) -> str:
    """The model panel's facts (`dataset` markdown-safe), one a line."""
    measured = "not measured" if accuracy is None else f"{accuracy:.1%}"
    return f"Data set: {dataset}  \nTest accuracy: {measured}  \nParameters: {parameters:,}  \nInput: {shape}"


def text_input_shape(max_length: int, vocabulary: int) -> str:
    """What a text model reads, for the model panel."""
    return f"up to {max_length} words, {vocabulary:,} known"


def waiting_candidate(status: str, epochs: int) -> str:
    """The model panel's note of a run that ended early and was not made current."""
    return f"A training run {status} after {epochs} epoch(s) and was not made current; Train / load offers it."
