"""cnnviz.analysis.visualisation: images optimised for a channel beat real images, reproducibly, and leave the model be.

On the zoo LeNet-5 trained on real MNIST, with the default settings (the app's): the numbers in the
comments were seen on this machine and are far from the bounds the tests assert.
"""

import numpy as np
import pytest
import torch

from cnnviz import (
    BadArgumentError,
    CNNSpec,
    CnnvizError,
    ConvSpec,
    Preprocessing,
    build_model,
    channel_objective,
    feature_maps,
    load_zoo_model,
    visualise_channel,
)

CHANNELS = (0, 1, 2, 3)

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as the app runs (cnnviz.settings): on a busy 2-core machine two threads made each
    optimisation 5 to 50 times slower (a second thread waits for a busy core at every small convolution)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lenet():
    return load_zoo_model("lenet5-mnist")


@pytest.fixture(scope="module")
def test_inputs(lenet, lib_mnist):
    """The 1,000 test digits of the bundled MNIST split, preprocessed for the zoo model."""
    return lenet.info.preprocessing.apply(lib_mnist.x_test)


@pytest.fixture(scope="module")
def per_channel(lenet):
    """One image (default settings, seed 0) optimised for each of conv2's channels 0 to 3."""
    return {c: visualise_channel(lenet.model, lenet.info.preprocessing, "conv2", c) for c in CHANNELS}


def test_the_optimised_image_excites_its_channel_more_than_any_test_image(lenet, test_inputs, per_channel):
    for c, vis in per_channel.items():
        best = channel_objective(lenet.model, test_inputs, "conv2", c).max()
        # e.g. channel 1: 1.77 for the optimised image, -1.54 for the best of the 1,000 digits
        assert vis.activations.shape == (1,)
        assert vis.activations[0] > best + 0.5, (c, vis.activations, best)


def test_each_image_excites_its_own_channel_more_than_the_images_made_for_the_others(lenet, per_channel):
    x = lenet.info.preprocessing.apply(np.concatenate([per_channel[c].images for c in CHANNELS]))
    # responses[i, j]: channel j's mean activation for the image optimised for channel i
    responses = np.stack([channel_objective(lenet.model, x, "conv2", j) for j in CHANNELS], axis=1)
    for j in CHANNELS:
        others = np.delete(responses[:, j], j)
        assert responses[j, j] > others.max(), (j, responses[:, j])


def test_activations_are_the_objective_of_the_final_image(lenet, per_channel):
    vis = per_channel[1]
    x = lenet.info.preprocessing.apply(vis.images)
    maps = feature_maps(lenet.model, x, layers=["conv2"])["conv2"]
    np.testing.assert_allclose(vis.activations, maps[:, 1].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    assert vis.objective.shape == (256, 1)
    assert vis.objective[-32:].mean() > vis.objective[:32].mean() + 0.5   # it rose while optimising


def test_one_channel_model_gives_grey_images_in_display_space(lenet, per_channel):
    images = per_channel[0].images
    assert images.shape == (1, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() > 0.9 and images.min() < 0.1          # strokes: white ink on a dark background
    # The background stays near MNIST's mean (0.13), the colour the model's normalisation maps to 0.
    assert abs(float(np.median(images)) - lenet.info.preprocessing.mean[0]) < 0.1


def test_pixel_parameterisation_also_beats_the_test_images(lenet, test_inputs):
    vis = visualise_channel(lenet.model, lenet.info.preprocessing, "conv2", 1, parameterisation="pixel")
    assert vis.parameterisation == "pixel" and 0.0 <= vis.images.min() and vis.images.max() <= 1.0
    assert vis.activations[0] > channel_objective(lenet.model, test_inputs, "conv2", 1).max()


def test_a_unit_objective_raises_that_unit(lenet, test_inputs):
    prep = lenet.info.preprocessing
    vis = visualise_channel(lenet.model, prep, "relu2", 3, unit=(5, 5))
    assert vis.unit == (5, 5)
    best = channel_objective(lenet.model, test_inputs, "relu2", 3, unit=(5, 5)).max()
    maps = feature_maps(lenet.model, prep.apply(vis.images), layers=["relu2"])["relu2"][0, 3]
    assert vis.activations[0] == pytest.approx(maps[5, 5], rel=1e-5)
    assert maps[5, 5] > best + 1.0                              # e.g. 11.0 against 6.7
    assert maps[5, 5] > np.delete(maps.ravel(), 5 * 10 + 5).max()   # the unit asked for, not another one


def test_same_seed_same_images_other_seed_other_images(lenet):
    prep = lenet.info.preprocessing
    first = visualise_channel(lenet.model, prep, "relu2", 2, steps=40, seed=3)
    again = visualise_channel(lenet.model, prep, "relu2", 2, steps=40, seed=3)
    other = visualise_channel(lenet.model, prep, "relu2", 2, steps=40, seed=4)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.objective, again.objective)
    assert np.abs(first.images - other.images).mean() > 0.02


def test_torchs_global_random_state_is_not_used(lenet):
    before = torch.get_rng_state()
    visualise_channel(lenet.model, lenet.info.preprocessing, "conv1", 0, steps=5)
    assert torch.equal(before, torch.get_rng_state())


def spread(vis) -> float:
    """The mean absolute difference of the images of `vis`, over every pair."""
    n = len(vis.images)
    return float(np.mean([np.abs(vis.images[i] - vis.images[j]).mean() for i in range(n) for j in range(i + 1, n)]))


def test_diversity_gives_images_that_differ(lenet, test_inputs):
    prep = lenet.info.preprocessing
    vis = visualise_channel(lenet.model, prep, "relu2", 0, unit=(5, 5), diversity=3)
    assert vis.images.shape == (3, 1, 28, 28) and vis.objective.shape == (256, 3) and vis.activations.shape == (3,)
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(vis.images[i] - vis.images[j]).mean() > 0.05, (i, j)    # e.g. 0.12 to 0.15
    # Without the diversity term the three start from different noise and end nearly alike (0.013 to 0.016).
    alike = visualise_channel(lenet.model, prep, "relu2", 0, unit=(5, 5), diversity=3, diversity_weight=0)
    assert spread(vis) > 3 * spread(alike)
    # Diversity costs some activation (12.0 to 12.8 against 13.6 to 13.8), but every image still excites the
    # unit more than any digit does (6.6).
    assert vis.activations.min() > channel_objective(lenet.model, test_inputs, "relu2", 0, unit=(5, 5)).max()


def test_a_three_channel_model_gives_colour_images():
    spec = CNNSpec("tiny colour", in_channels=3, input_size=16, convs=(ConvSpec(4, 3, pool="max"),), num_classes=2)
    model = build_model(spec, seed=0)
    prep = Preprocessing(3, 16, (0.5, 0.4, 0.3), (0.25, 0.25, 0.25))
    vis = visualise_channel(model, prep, "conv1", 2, steps=60)
    assert vis.images.shape == (1, 3, 16, 16)
    assert 0.0 <= vis.images.min() and vis.images.max() <= 1.0
    assert np.abs(vis.images[0, 0] - vis.images[0, 2]).mean() > 0.01    # colour, not three equal greys
    plain = np.ones((1, 3, 16, 16), np.float32) * np.array(prep.mean, np.float32)[None, :, None, None]
    start = channel_objective(model, prep.apply(plain), "conv1", 2)     # the mean colour it starts from
    assert vis.activations[0] > start[0] + 0.5


def test_on_step_reports_every_step(lenet):
    seen = []
    vis = visualise_channel(lenet.model, lenet.info.preprocessing, "conv1", 2, steps=12,
                            on_step=lambda step, steps, value: seen.append((step, steps, value)))
    assert [s[:2] for s in seen] == [(i, 12) for i in range(1, 13)]
    np.testing.assert_allclose([s[2] for s in seen], vis.objective.mean(axis=1), rtol=1e-6)


# --- the model is left as it was --------------------------------------------------------------------

def hooks_left(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_the_model_is_unchanged_flags_restored_and_no_hook_left():
    model = load_zoo_model("lenet5-mnist").model
    model.train()
    model.conv1.eval()                           # a frozen part must stay frozen
    model.fc1.weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [(m.training) for m in model.modules()]
    prep = load_zoo_model("lenet5-mnist").info.preprocessing
    visualise_channel(model, prep, "relu2", 0, steps=20, diversity=2)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [m.training for m in model.modules()] == flags
    assert not model.fc1.weight.requires_grad and model.conv1.weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert hooks_left(model) == 0


def test_a_failing_callback_leaves_the_model_as_it_was():
    trained = load_zoo_model("lenet5-mnist")
    trained.model.train()

    def stop(step, steps, value):
        raise KeyboardInterrupt          # what a page's rerun does to a run in progress

    with pytest.raises(KeyboardInterrupt):
        visualise_channel(trained.model, trained.info.preprocessing, "conv2", 0, steps=10, on_step=stop)
    assert hooks_left(trained.model) == 0 and all(m.training for m in trained.model.modules())
    assert all(p.requires_grad for p in trained.model.parameters())


# --- bad arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("layer", "channel", "options", "message"), [
    ("conv9", 0, {}, r"Unknown layer 'conv9'; this model's layers are: conv1, relu1"),
    ("conv1", 6, {}, r"'conv1' has channels 0 to 5, not 6"),
    ("conv1", -1, {}, r"'conv1' has channels 0 to 5, not -1"),
    ("fc1", 0, {}, r"'fc1' gives \(120,\), not \(channels, rows, cols\) maps"),
    ("conv1", 0, {"steps": 0}, r"steps must be a whole number of at least 1, not 0"),
    ("conv1", 0, {"diversity": 0}, r"diversity must be a whole number of at least 1, not 0"),
    ("conv1", 0, {"unit": (28, 0)}, r"unit \(28, 0\) is outside the 28x28 map of 'conv1'"),
    ("conv1", 0, {"parameterisation": "wavelet"}, r"parameterisation must be 'fourier' or 'pixel'"),
    ("conv1", 0, {"learning_rate": -1}, r"learning_rate must be a number from"),
    ("conv1", 0, {"scale": 1.5}, r"scale must be below 1"),
])
def test_bad_arguments_get_a_clear_message(lenet, layer, channel, options, message):
    with pytest.raises(BadArgumentError, match=message) as raised:
        visualise_channel(lenet.model, lenet.info.preprocessing, layer, channel, **options)
    assert isinstance(raised.value, CnnvizError) and isinstance(raised.value, ValueError)
    assert hooks_left(lenet.model) == 0


def test_channel_objective_refuses_what_visualise_channel_refuses(lenet, test_inputs):
    with pytest.raises(BadArgumentError, match="has channels 0 to 15, not 16"):
        channel_objective(lenet.model, test_inputs[:4], "conv2", 16)
    with pytest.raises(BadArgumentError, match=r"x must be a batch \(N, C, H, W\)"):
        channel_objective(lenet.model, test_inputs[0], "conv2", 0)
