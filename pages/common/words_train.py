"""The Train / load page's words: progress while training, what a run achieved, what a file did."""

ARCHITECTURE_LABELS = {"lenet5": "LeNet-5 (LeCun 1998)", "tiny_vgg": "TinyVGG (CNN Explainer)"}
# The zoo's image models, in menu order; the text models are on the TextCNN page.
ZOO_LABELS = {
    "lenet5-mnist": "LeNet-5 on MNIST (real handwritten digits)",
    "tinyvgg-fashion_mnist": "TinyVGG on Fashion-MNIST (clothing photos)",
    "efficientnet-lite0-imagenet": "EfficientNet-Lite0 on ImageNet (1,000 classes, 224×224 photos)",
    "lenet5-digits": "LeNet-5 on the digits lab (8×8 digits blown up)",
    "tinyvgg-shapes": "TinyVGG on the shapes lab (procedural)",
}
PREBUILT_NOTE = ("EfficientNet-Lite0 (Tan & Le 2019) comes with its published ImageNet weights and is not trained "
                 "here: training it takes GPUs and days. Every page looks inside it; it is slower than the small "
                 "models (about a second per new input).")
def prebuilt_file_note(name: str, key: str) -> str:
    """Instead of a download for a model that ships with cnnviz (`name` markdown-safe)."""
    return (f"{name} ships with cnnviz: every session can pick it in the model zoo (above), and a link to any page "
            f"with it carries model={key}. In a notebook: `cnnviz.load_zoo_model({key!r})`. No file is offered: "
            "as an upload it would be refused, since its activations for the app's batches are over the budget "
            "for uploaded models.")


LEARNING_RATE_HELP = ("Adam with a one-cycle schedule: the rate rises to this value, then falls towards zero by "
                      "the last epoch.")
MODEL_FILE_NOTE = ("One file with the weights and, in its metadata, the architecture, preprocessing and "
                   "class names: loading it needs nothing else.")
UPLOAD_HELP = ".safetensors saved by cnnviz, or a state_dict as .safetensors or .pt. Files are never unpickled or run."
MISCLASSIFIED_NOTE = "Each title reads true class → predicted class, with the model's confidence."


def unchanged(error: object) -> str:
    """A training that could not start: why, and that nothing changed."""
    return f"{error} The current model is unchanged."


def following(done: int, epochs: int) -> str:
    """The progress text while another session runs the same training."""
    return (f"The same training (this model, data set, settings and seed) is running for another session on "
            f"this server: epoch {done} of {epochs} done. Its result will be shown here too: a seeded training "
            "gives the same numbers.")


def reused(message: str) -> str:
    """The message of a training that already ran to the end in this process, shown at once."""
    return (f"{message} This exact training (same model, data set, settings and seed) already ran on this server, "
            "so its result is shown at once: a seeded training gives the same numbers every time.")


def batch_progress(epoch: int, epochs: int, batch: int, batches: int, loss: float) -> str:
    """The progress text after a batch."""
    return f"Epoch {epoch}/{epochs}, batch {batch}/{batches}, loss {loss:.3f}"


def trained_for(epochs: int) -> str:
    """A run's message when the trainer gave none."""
    return f"Trained for {epochs} epochs."


def run_outcome(message: str, accuracy: float, status: str, current_name: str | None) -> str:
    """What a run achieved, and whether its model is now the current one.

    `current_name` (markdown-safe) is the model still current when the run's model is only a
    candidate; None when the run's model is current."""
    if current_name is None:
        now = "This is now the current model." if status == "completed" else "You made it the current model."
        return f"{message} Test accuracy {accuracy:.1%}. {now}"
    return (f"{message} Test accuracy {accuracy:.1%}. The current model is unchanged ({current_name}): a run that "
            "did not finish does not replace it unless you ask.")


def misclassified_heading(count: int) -> str:
    """The heading over the misclassified test examples."""
    return f"**Misclassified test examples** ({count} in all, most confident first)"


def not_loaded(file_name: str, error: str, current_name: str) -> str:
    """An uploaded model file that was refused (names and error already markdown-safe)."""
    return f"{file_name} was not loaded: {error}  \nThe current model is unchanged: {current_name}."


def not_a_text_cnn(file_name: str, model_name: str) -> str:
    """An uploaded text model that is not a TextCNN."""
    return (f"{file_name} holds a {model_name} model; only TextCNN text models can be explored here (on the "
            "TextCNN page). Nothing was changed.")


def loaded(file_name: str, model_name: str, *, text: bool) -> str:
    """An uploaded model file that became the current (image, or with `text` the TextCNN page's) model."""
    if text:
        return f"Loaded {file_name}: {model_name} is now the model of the TextCNN page."
    return f"Loaded {file_name}: {model_name} is now the current model."
