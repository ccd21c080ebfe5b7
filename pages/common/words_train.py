"""The Train / load page's words: progress while training, what a run achieved, what a file did.

The sentences are templates of the `train` catalogue (pages/locales/*/train.toml); the architectures and
the zoo's models are named by its tables [architectures] and [zoo_models], by key. Sentences a run keeps
(its message, shown on later runs) are phrases, put into the language of the run that shows them.
"""

import re

from pages.common.i18n import DEFAULT_LANGUAGE, Phrase, catalogue, phrase, t


def _table(name: str) -> dict[str, str]:
    """A table of the English catalogue by key, in file order."""
    prefix = f"train.{name}."
    return {key[len(prefix):]: words for key, words in catalogue(DEFAULT_LANGUAGE).items() if key.startswith(prefix)}


# The options' keys, with their English names (language-neutral widget values; tests read the names).
ARCHITECTURE_LABELS = _table("architectures")
# The zoo's image models, in menu order; the text models are on the TextCNN page.
ZOO_LABELS = _table("zoo_models")


def architecture_label(key: str) -> str:
    """An architecture's name in the session's language (a widget's `format_func`)."""
    return t(f"train.architectures.{key}") if key in ARCHITECTURE_LABELS else key


def zoo_label(key: str) -> str:
    """A zoo model's name in the session's language (a widget's `format_func`); its key if it has none."""
    return t(f"train.zoo_models.{key}") if key in ZOO_LABELS else key


def prebuilt_file_note(name: str, key: str) -> str:
    """Instead of a download for a model that ships with cnnviz (`name` markdown-safe)."""
    return t("train.file.prebuilt", name=name, key=key)


def unchanged(error: object) -> str:
    """A training that could not start: why, and that nothing changed."""
    return t("train.run.unchanged", error=error)


def following(done: int, epochs: int) -> str:
    """The progress text while another session runs the same training."""
    return t("train.run.following", done=done, epochs=epochs)


def reused(message: object) -> Phrase:
    """The message of a training that already ran to the end in this process, shown at once."""
    return phrase("train.run.reused", message=message)


def batch_progress(epoch: int, epochs: int, batch: int, batches: int, loss: float) -> str:
    """The progress text after a batch."""
    return t("train.run.batch_progress", epoch=epoch, epochs=epochs, batch=batch, batches=batches, loss=loss)


def trained_for(epochs: int) -> Phrase:
    """A run's message when the trainer gave none."""
    return phrase("train.run.trained_for", epochs=epochs)


def stopped_after(epochs: int) -> Phrase:
    """The message of a run that a rerun interrupted (the Stop button, or leaving the page)."""
    return phrase("train.run.stopped_after", epochs=epochs)


# The trainer's message for a loss that became NaN or infinite (cnnviz.models.training.train).
_DIVERGED = re.compile(r"The loss became (\S+) in epoch (\d+), batch (\d+);")


def trainer_message(message: str) -> Phrase | str:
    """The trainer's own message, in the session's language when it is one the page knows (a diverged run's)."""
    found = _DIVERGED.match(message)
    if found is None:
        return message
    loss, epoch, batch = found[1], int(found[2]), int(found[3])
    restored = (phrase("train.run.restored_epoch", epoch=epoch - 1) if epoch > 1
                else phrase("train.run.restored_initial"))
    return phrase("train.run.diverged", loss=loss, epoch=epoch, batch=batch, restored=restored)


def run_outcome(message: object, accuracy: float, status: str, current_name: str | None) -> str:
    """What a run achieved, and whether its model is now the current one.

    `current_name` (markdown-safe) is the model still current when the run's model is only a
    candidate; None when the run's model is current."""
    if current_name is None:
        now = t("train.result.now_current" if status == "completed" else "train.result.made_current")
        return t("train.result.outcome", message=message, accuracy=accuracy, now=now)
    return t("train.result.candidate", message=message, accuracy=accuracy, current=current_name)


def misclassified_heading(count: int) -> str:
    """The heading over the misclassified test examples."""
    return t("train.result.misclassified", count=count)


def not_loaded(file_name: str, error: str, current_name: str) -> str:
    """An uploaded model file that was refused (names and error already markdown-safe)."""
    return t("train.file.not_loaded", file=file_name, error=error, current=current_name)


def not_a_text_cnn(file_name: str, model_name: str) -> str:
    """An uploaded text model that is not a TextCNN."""
    return t("train.file.not_a_text_cnn", file=file_name, model=model_name)


def loaded(file_name: str, model_name: str, *, text: bool) -> str:
    """An uploaded model file that became the current (image, or with `text` the TextCNN page's) model."""
    return t("train.file.loaded_text" if text else "train.file.loaded", file=file_name, model=model_name)
