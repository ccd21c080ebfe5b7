"""The app's words (pages/common/words_*.py): sentences built from numbers a person can check, without Streamlit."""

import numpy as np
import pytest

from cnnviz import IG_TOLERANCE, GradientSpread, ResNetSpec, TokenAttribution
from pages.common import words_receptive_fields as receptive_fields
from pages.common import words_resnet as resnet
from pages.common import words_text_cnn as text_cnn
from pages.common import words_train as train

# --- ResNet -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ratio", "shown"), [(2.94, "2.9"), (0.634, "0.63"), (1e-3, "0.001"),
                                              (3.1e5, "3.1e+05"), (2e-4, "2.0e-04"), (9999, "1e+04")])
def test_a_ratio_near_one_keeps_two_digits_and_a_far_one_goes_scientific(ratio, shown):
    assert resnet.ratio_number(ratio) == shown


@pytest.mark.parametrize(("ratio", "words"), [(0.001, "vanishes towards the input"),
                                              (0.01, "stays within two orders of magnitude"),
                                              (1.0, "stays within two orders of magnitude"),
                                              (100, "stays within two orders of magnitude"),
                                              (101, "explodes towards the input")])
def test_ratio_words_read_two_orders_of_magnitude_either_way_as_steady(ratio, words):
    assert resnet.ratio_words(ratio) == words


def test_explain_a_vanishing_plain_net_beside_a_flat_residual_one():
    spec = ResNetSpec(depth=20, batch_norm=False, init="default")
    text = resnet.explain(spec, 0.004, 0.5)
    first = text.split("\n\n")[0]
    assert first == ("In the plain net the gradient **vanishes towards the input** (first conv / last conv = 0.004); "
                     "in the residual net it **stays within two orders of magnitude** (0.5).")
    assert "√(1/6) ≈ 0.41" in text                   # the default init's variance, a sixth of He's
    assert text.endswith("the residual curve stays flat (He et al. 2016).")


def test_explain_sigmoid_post_activation_suggests_pre_activation_and_says_the_shortcut_fails():
    text = resnet.explain(ResNetSpec(activation="sigmoid", batch_norm=False, init="default", block="post"),
                          1e-6, 1e-4)
    assert "at most 1/4" in text and "try **pre-activation** blocks" in text
    assert "√(1/6)" not in text                       # the sigmoid paragraph replaces the init one
    assert text.endswith("so the residual net's curve falls too.")


def test_explain_batch_norm_with_a_healthy_plain_gradient_names_the_optimisation_difficulty():
    text = resnet.explain(ResNetSpec(), 1.3, 1.1)
    assert len(text.split("\n\n")) == 3               # the ratios, the degradation, the shortcuts
    assert "not a vanishing gradient" in text
    assert "Yang et al. 2019" not in text             # only when the plain ratio grows past 10


def test_explain_batch_norm_with_a_growing_plain_gradient_cites_the_mean_field_theory():
    text = resnet.explain(ResNetSpec(depth=56), 40.0, 1.5)
    assert "Yang et al. 2019" in text and "not a vanishing gradient" in text   # 40 is still below 100


def test_verdict_reads_the_degradation_problem_when_the_deep_plain_net_ends_higher():
    finals = {"plain-20": 0.40, "plain-56": 0.52, "ResNet-20": 0.35, "ResNet-56": 0.30}
    text = resnet.verdict(finals, 20, 56, chance=np.log(10))
    assert text.startswith("**plain-56** ends at 0.520, *above* plain-20 (0.400)")
    assert "degradation problem" in text
    assert text.endswith("**ResNet-56** ends at 0.300 (ResNet-20: 0.350): with shortcuts, an extra block only has "
                         "to learn a change to the identity.")


def test_verdict_says_so_when_neither_plain_net_left_chance_level():
    finals = {"plain-20": 2.30, "plain-56": 2.29, "ResNet-20": 1.0, "ResNet-56": 0.9}
    text = resnet.verdict(finals, 20, 56, chance=2.3026)   # ln 10: 0.9 of it is 2.07, below both
    assert text.startswith("Neither plain net learnt anything: both stayed near chance level (loss ln(classes) = "
                           "2.30)")


def test_verdict_within_five_hundredths_is_not_clearly_above():
    finals = {"plain-20": 0.40, "plain-56": 0.44, "ResNet-20": 0.35, "ResNet-56": 0.30}
    assert "not clearly above plain-20 (0.400) in this run" in resnet.verdict(finals, 20, 56, chance=2.3)


def test_every_preset_and_dataset_has_a_label():
    page_keys = {"paper", "vanish", "sigmoid_post", "sigmoid_pre"}
    assert set(resnet.PRESETS) == page_keys
    assert set(resnet.DATASETS) == {"digits", "shapes", "cifar10"}
    assert resnet.depths_in_order(56, 20) == ("The shallow net (56 layers) must have fewer layers than the deep "
                                              "one (20).")


# --- Receptive fields ---------------------------------------------------------------------------


def spread(fraction, offset, peak=(4.0, 4.0), centre=(4.0, 4.0)):
    return GradientSpread(fraction=fraction, mass=0.95, peak=peak, centre=centre, peak_offset=offset)


def test_erf_sentence_for_a_gradient_that_fills_its_box_and_peaks_in_the_middle():
    text = receptive_fields.erf_sentence(spread(0.8, 0.0))
    assert text.startswith("95% of the gradient inside the box lies on 80% of its pixels: it fills most of the box")
    assert ", and the gradient peaks near the centre of the box." in text
    assert "need not show it" in text                 # a big, central field is not Luo et al.'s bump


def test_erf_sentence_for_a_small_central_bump_quotes_luo_et_al():
    text = receptive_fields.erf_sentence(spread(0.2, 0.25))   # 0.25 <= 1/3: near the centre
    assert "clearly smaller than the theoretical one" in text
    assert text.endswith("This is what Luo et al. (2016) found for deep networks: a small bump in the middle.")


def test_erf_sentence_names_an_off_centre_peak_by_row_and_column():
    text = receptive_fields.erf_sentence(spread(0.6, 0.5, peak=(2.0, 6.5), centre=(4.0, 4.0)))
    assert "somewhat smaller" in text
    assert "peaks off centre, at row 2, column 6.5 (the box's centre is row 4, column 4)." in text


def test_erf_sentence_with_no_peak_reads_as_off_centre():
    text = receptive_fields.erf_sentence(spread(0.9, None, peak=(1.0, 1.0)))
    assert "peaks off centre, at row 1, column 1" in text


def test_the_switched_off_caption_suggests_averaging_only_for_a_single_input():
    assert receptive_fields.switched_off("this input").endswith("passes no gradient either). Pick another unit, "
                                                                 "or average over many inputs.")
    assert receptive_fields.switched_off("test images").endswith("passes no gradient either). Pick another unit "
                                                                  "or channel.")
    # ReLU6 (EfficientNet) also stops the gradient where it is saturated, not only where it gives 0.
    assert "for this input (its ReLU gives 0, or a ReLU6 on its path is saturated at 6" in \
        receptive_fields.switched_off("this input")


def test_unit_and_padding_sentences():
    assert receptive_fields.unit_sees((3, 4), "conv2", (1, 2, 10, 11)) == (
        "**Unit (3, 4) of conv2 sees input rows 1–10, columns 2–11**")
    # A window larger than the input (EfficientNet's blocks.15 sees 851x851 of a 224x224 photo) is said to be.
    assert receptive_fields.unit_sees((3, 3), "blocks.15", (0, 0, 223, 223), (851, 851), 224) == (
        "**Unit (3, 3) of blocks.15 sees input rows 0–223, columns 0–223** (its theoretical window is 851×851, "
        "larger than the 224×224 input: the box below is clipped to the input, and the rest of the window falls "
        "on padding)")
    assert "theoretical" not in receptive_fields.unit_sees((3, 4), "conv2", (1, 2, 10, 11), (14, 14), 28)
    assert receptive_fields.padding_connections(4, 24, 20) == (
        "4 of the 24 connections fall on padding (open circles, a constant 0), so 20 lines reach the inputs.")


# --- TextCNN ------------------------------------------------------------------------------------


def ig(attributions, difference, delta, n_steps=50, requested=50):
    return TokenAttribution(tokens=tuple("abc"[:len(attributions)]), attributions=np.array(attributions),
                            target=1, method="integrated_gradients", delta=delta, prediction_difference=difference,
                            n_steps=n_steps, requested_steps=requested)


def test_ig_completeness_of_a_converged_result():
    # 1.5 + 0.5 - 0.001 = 1.999 against a change of 2.0: delta -0.001, 0.05% of it.
    text = text_cnn.ig_completeness(ig([1.5, 0.5, -0.001], 2.0, -0.001), IG_TOLERANCE)
    assert text == ("Integrated Gradients with 50 steps: the attributions add up to 1.999, while the class score "
                    "changes by 2 from an all-padding sentence to this one: the convergence delta is -0.001, "
                    "0.05% of it (converged: within 1%).")


def test_ig_completeness_after_doubling_that_did_not_converge():
    # 1.0 against 2.0: delta -1, half the change, after doubling 50 steps to 400.
    text = text_cnn.ig_completeness(ig([0.6, 0.4], 2.0, -1.0, n_steps=400, requested=50), IG_TOLERANCE)
    assert text.startswith("Integrated Gradients did not converge with 400 steps (the 50 chosen left the sum more "
                           "than 1% off, so they were doubled, up to the most tried): the attributions add up to 1,")
    assert "the convergence delta is -1, 50.00% of it, more than the 1% a converged result stays within." in text


def test_ig_completeness_when_the_score_does_not_change():
    text = text_cnn.ig_completeness(ig([0.5, -0.4], 0.0, 0.1), IG_TOLERANCE)
    assert "the convergence delta is 0.1, while the change is 0, more than the 1%" in text


def test_occlusion_captions_by_window_and_padding():
    assert text_cnn.occlusion_caption(1, 0) == ("Occlusion, window of 1 word: each token's value is the drop of the "
                                                "class score when that token alone is replaced by padding.")
    wide = text_cnn.occlusion_caption(3, 2)
    assert wide.startswith("Occlusion, window of 3 words: each run of 3 neighbouring tokens is replaced by padding")
    assert wide.endswith(" The 2 padding position(s) the model adds to reach its widest filter are not words: they "
                         "are left empty.")
    assert text_cnn.padding_note(0) == ""


def test_text_model_sentences():
    assert text_cnn.model_caption("TextCNN", 0.8312, 12345, 678) == (
        "Text model: **TextCNN** — test accuracy 83.1%, 12,345 parameters, vocabulary of 678 words.")
    assert "test accuracy not measured" in text_cnn.model_caption("x", None, 1, 1)
    assert text_cnn.dropped(1234, 200, 1034).startswith("This sentence has 1,234 tokens; the model reads only "
                                                       "the first 200 (its longest input), so the last 1,034")
    assert text_cnn.model_label("TextCNN", 0.9, zoo=True) == "the zoo model TextCNN (90.0% test accuracy)"
    assert text_cnn.model_label("mine", None, zoo=False) == "mine (accuracy not measured)"
    assert text_cnn.not_replaced("stopped", 3, 15, "Stopped.", "mine (80.0% test accuracy)") == (
        "The TextCNN stopped after 3 of 15 epochs (Stopped.), so it did not replace the text model: "
        "mine (80.0% test accuracy) is still the one in use.")


# --- Train / load -------------------------------------------------------------------------------


def test_run_outcome_says_whether_the_run_replaced_the_current_model():
    assert train.run_outcome("Done.", 0.9712, "completed", None) == (
        "Done. Test accuracy 97.1%. This is now the current model.")
    assert train.run_outcome("Stopped.", 0.5, "stopped", None).endswith("You made it the current model.")
    assert train.run_outcome("Stopped.", 0.5, "stopped", "LeNet-5") == (
        "Stopped. Test accuracy 50.0%. The current model is unchanged (LeNet-5): a run that did not finish does "
        "not replace it unless you ask.")


def test_training_progress_and_file_sentences():
    assert train.batch_progress(2, 5, 30, 100, 0.12345) == "Epoch 2/5, batch 30/100, loss 0.123"
    assert train.following(3, 10).startswith("The same training (this model, data set, settings and seed) is "
                                             "running for another session on this server: epoch 3 of 10 done.")
    assert train.misclassified_heading(12) == "**Misclassified test examples** (12 in all, most confident first)"
    assert train.loaded("a.pt", "LeNet-5", text=False) == "Loaded a.pt: LeNet-5 is now the current model."
    assert train.not_loaded("a.pt", "bad file", "LeNet-5") == (
        "a.pt was not loaded: bad file  \nThe current model is unchanged: LeNet-5.")


def test_the_textcnn_intro_names_the_models_own_widths():
    from pages.common import words_text_cnn

    assert "filters of width 3, 4, 5 slide over it" in words_text_cnn.intro((3, 4, 5))   # Kim 2014's, on MR
    assert "filters of width 2, 3, 4 slide over it" in words_text_cnn.intro((2, 3, 4))   # the negation lab's
    assert "filters of a few widths" in words_text_cnn.intro(None)                       # fastText has none


# --- Attributions -------------------------------------------------------------------------------

def test_the_completeness_sentence_follows_its_numbers():
    from pages.common import words_attributions as words

    assert words.completeness(25.13, 25.06, 0.071).endswith("0.071, 0.3% of the change: converged: within 1% of it.")
    assert words.completeness(9.24, 8.918, 0.32).endswith("3.6% of the change: close: within 5% of it.")
    assert words.completeness(1.0, 2.0, 1.0).endswith("not converged: raise the number of steps.")
    assert words.completeness(1.0, 2.0, 1.0, at_cap=True).endswith("this server allows no more steps, so read the "
                                                                    "map with care.")
    assert "the same class score as the image" in words.completeness(0.0, 0.0, 0.0)   # a blank input, say


def test_the_sanity_verdict_names_failing_passing_and_constant_maps():
    from pages.common import words_attributions as words

    text = words.sanity_verdict({"Integrated Gradients": 0.99, "Grad-CAM": -0.01, "Saliency": float("nan")})
    assert "still above it for Integrated Gradients (0.99)" in text and "Passed: Grad-CAM (-0.01)." in text
    assert "No verdict for Saliency: the map is the same everywhere" in text and "(this page's line: 0.5)" in text
    assert "at most that for every method" in words.sanity_verdict({"Grad-CAM": 0.1})
