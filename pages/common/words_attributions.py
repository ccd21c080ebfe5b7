"""The Attributions page's words: what each method computes, what the checks mean, sentences from numbers."""

from __future__ import annotations

INTRO = ("Which pixels made the model say this class? Each method below answers with a map over the image, and "
         "they do not agree. Two checks say which maps to trust: does the map change when the model's weights "
         "are destroyed (it should), and does removing the pixels it ranks first destroy the prediction (it should).")

# One or two sentences each: what the method computes, and the paper.
METHOD_NOTES = {
    "saliency": "The size of the gradient of the class score with respect to each pixel (summed over the colour "
                "channels; Simonyan et al. 2014 take their maximum): how much a tiny change of that pixel would "
                "move the score.",
    "input_x_gradient": "The gradient times the pixel's own value: a first-order guess at each pixel's "
                        "contribution (Shrikumar et al. 2016).",
    "integrated_gradients": "The gradient averaged along a straight path from a baseline image to this one, "
                            "times the difference: the attributions add up to F(x) − F(baseline) "
                            "(completeness; Sundararajan et al. 2017).",
    "smoothgrad": "Saliency averaged over copies of the image with noise added, which removes much of the "
                  "speckle (Smilkov et al. 2017).",
    "guided_backprop": "The gradient with every ReLU on the way back letting only positive gradients through: sharp, "
                       "image-like maps, which Adebayo et al. 2018 found barely depend on the model "
                       "(Springenberg et al. 2015).",
    "grad_cam": "A layer's maps weighted by the mean gradient of the class score over each map, summed, "
                "negative parts cut off, and scaled up to the image: coarse, but class-specific "
                "(Selvaraju et al. 2017).",
    "guided_grad_cam": "Guided Backprop times Grad-CAM: sharp and class-specific (Selvaraju et al. 2017).",
    "occlusion": "Cover a square of the image with the data set's mean colour, slide it over the image, and record "
                 "how much the class score drops: slow, but asks the model directly (Zeiler & Fergus 2014).",
}
SANITY_NOTE = ("Cascading randomisation (Adebayo et al. 2018): the layers' weights are replaced by random ones, top "
               "layer first, one more at each step, and each map is compared with its original by rank correlation "
               "(Spearman) and structural similarity (SSIM). A map that stays the same once the weights are random "
               "cannot be explaining the model: it shows the image's edges.")
FAITHFULNESS_NOTE = ("Deletion and insertion (Petsiuk et al. 2018): remove the pixels in the order the map ranks them "
                     "(set them to the baseline) and follow the class's probability; or start from the baseline and "
                     "put them back. A faithful map makes the probability fall fast on deletion (a small area under "
                     "the curve) and rise fast on insertion (a large area), compared with a random order.")
SIGNED_HELP = ("Off: signed maps (Input × Gradient, Integrated Gradients, Guided Backprop, Guided Grad-CAM, "
               "Occlusion) are shown with their sign, blue for evidence for the class and red against it. On: every "
               "map as magnitudes.")


def completeness(total: float, change: float, delta: float, *, at_cap: bool = False) -> str:
    """Integrated Gradients' check, worded from its numbers: the map's sum against F(x) − F(baseline).
    `at_cap`: the steps are already at this server's most, so more cannot be suggested."""
    if abs(change) < 1e-6:
        return ("Integrated Gradients: the baseline gets the same class score as the image, so there is nothing for "
                "the attributions to add up to; try another baseline.")
    share = abs(delta) / abs(change)
    verdict = ("converged: within 1% of it" if share <= 0.01 else
               "close: within 5% of it" if share <= 0.05 else
               "not converged: " + ("this server allows no more steps, so read the map with care" if at_cap
                                    else "raise the number of steps"))
    return (f"Integrated Gradients: the attributions add up to {total:.4g}, and the class score changes by "
            f"{change:.4g} from the baseline to the image; the difference (Captum's convergence delta) is "
            f"{abs(delta):.2g}, {share:.1%} of the change: {verdict}.")


def sanity_verdict(names: dict[str, float], threshold: float = 0.5) -> str:
    """Which methods fail the randomisation test: their rank correlation with the original stays above
    `threshold` once every layer is random (`names`: method title -> that correlation, NaN for a constant map).
    Adebayo et al. judge by eye and by these curves; the threshold is this page's own line."""
    failing = [f"{name} ({value:.2f})" for name, value in names.items() if value > threshold]
    passing = [f"{name} ({value:.2f})" for name, value in names.items() if value <= threshold]
    constant = [name for name, value in names.items() if value != value]  # NaN: a map with no order
    text = (f"With every layer random, the rank correlation with the original map (this page's line: {threshold}) "
            "is ")
    if failing:
        text += ("still above it for " + ", ".join(failing) + ": on this model these maps show the image more "
                 "than the model, and fail the test.")
    else:
        text += "at most that for every method whose map has an order: each depends on the weights."
    if passing:
        text += " Passed: " + ", ".join(passing) + "."
    if constant:
        text += " No verdict for " + ", ".join(constant) + ": the map is the same everywhere, so it ranks nothing."
    return text


NO_METHOD = "Pick at least one method."
ONE_CLASS = ("This model has a single class: its probability is 1 whatever the input, so deleting or inserting "
             "pixels cannot move it and the test says nothing.")


def blank_input(label: str) -> str:
    """Instead of the maps for a blank input (`label` markdown-safe), as on Feature maps."""
    return (f"**No attributions for {label}:** it is blank, so there is nothing in it for a map to point at, and the "
            "model's prediction for it means nothing. Pick or draw something.")
RUN_FAITHFULNESS = "Run the test (a few seconds per method on a network of this size)"
LAYER_HELP = ("Grad-CAM weighs this layer's maps by the class's mean gradient over each. The default is the last "
              "rectified (ReLU) map, as Selvaraju et al. used: a convolution's raw maps are mostly cut off by "
              "Grad-CAM's own ReLU.")


def class_choice(choice: int, predicted: int, class_names: tuple[str, ...]) -> str:
    """How the class box names an option: the prediction first, then every class by number and name."""
    if choice < 0:
        return f"the prediction: {class_names[predicted]}"
    return f"{choice}: {class_names[choice]}"


def too_many_layers(name: str, layers: int, limit: int) -> str:
    """Why the sanity check is not run for a large network (`name` markdown-safe)."""
    return (f"{name} has {layers:,} layers with weights; the check computes every map once more per layer, which "
            f"takes too long for a page here (at most {limit}). Try it on LeNet-5 or TinyVGG, or in a notebook with "
            "`cnnviz.sanity_check(..., layers=[...])` on a few layers.")


def auc_rows(methods: list[tuple[str, float, float]], random_deletion: float,
             random_insertion: float) -> list[dict[str, object]]:
    """The table under the curves: each method's two areas, then the random order's."""
    rows = [*methods, ("random order", random_deletion, random_insertion)]
    return [{"order of the pixels": name, "deletion AUC (lower is better)": round(deletion, 3),
             "insertion AUC (higher is better)": round(insertion, 3)} for name, deletion, insertion in rows]
