"""cnnviz.analysis.attributions: captum's maps against hand computations, Integrated Gradients' completeness,
Adebayo et al.'s randomisation check and Petsiuk et al.'s deletion and insertion on the zoo's LeNet-5."""

import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.analysis.attributions import (
    METHODS,
    DeletionInsertion,
    ImageAttribution,
    _spearman,
    attribute_image,
    deletion_insertion,
    sanity_check,
)
from cnnviz.data.images import make_shapes
from cnnviz.models.cnn import lenet5
from cnnviz.models.zoo import load_zoo_model

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")  # captum's GuidedBackprop


def seq(*layers):
    return nn.Sequential(OrderedDict(layers))


@pytest.fixture(scope="module")
def zoo_lenet():
    return load_zoo_model("lenet5-mnist")


@pytest.fixture(scope="module")
def zoo_tiny_vgg():
    return load_zoo_model("tinyvgg-shapes")


@pytest.fixture(scope="module")
def digits(zoo_lenet, lib_mnist):
    """Eight preprocessed test digits of the bundled MNIST with their labels (the zoo model gets all 8 right)."""
    return zoo_lenet.info.preprocessing.apply(lib_mnist.x_test[:8]), [int(y) for y in lib_mnist.y_test[:8]]


def hand_model():
    """conv 1->2 (3x3, padding 1: same size), relu, global average pool, linear 2->2, all weights fixed."""
    model = seq(("conv", nn.Conv2d(1, 2, 3, padding=1)), ("relu", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", nn.Flatten()), ("fc", nn.Linear(2, 2)))
    with torch.no_grad():
        model.conv.weight.copy_(torch.tensor([[[[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]]],     # horizontal edges
                                              [[[1 / 9] * 3] * 3]]))                         # blur
        model.conv.bias.copy_(torch.tensor([0.0, -0.2]))
        model.fc.weight.copy_(torch.tensor([[1.0, -2.0], [-1.0, 3.0]]))
        model.fc.bias.zero_()
    return model


HAND_IMAGE = torch.tensor([[[0.0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 1, 0], [0, 1, 0, 0, 1, 0],
                            [0, 1, 0, 0, 1, 0], [0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]]])  # a square ring


# --- the maps, by hand -------------------------------------------------------------------------

def test_saliency_and_input_x_gradient_are_the_target_logits_gradient():
    model = lenet5(in_channels=3, seed=0)
    x = torch.randn(3, 28, 28, generator=torch.Generator().manual_seed(1))
    leaf = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(leaf[None])[0, 4], leaf)
    saliency = attribute_image(model, x, "saliency", 4)
    assert saliency.attribution.shape == (28, 28) and saliency.attribution.dtype == np.float64
    np.testing.assert_allclose(saliency.attribution, grad.abs().sum(0).double().numpy(), rtol=1e-5, atol=1e-9)
    assert not saliency.signed and saliency.delta is None and saliency.layer is None
    ixg = attribute_image(model, x.numpy(), "input_x_gradient", np.int64(4))  # numpy image and target work too
    np.testing.assert_allclose(ixg.attribution, (x * grad).sum(0).double().numpy(), rtol=1e-5, atol=1e-7)
    assert ixg.signed and (ixg.attribution < 0).any()


def test_grad_cam_is_the_gradient_weighted_relu_sum_of_the_layers_maps():
    model, x = hand_model(), HAND_IMAGE
    maps = F.conv2d(x[None], model.conv.weight, model.conv.bias, padding=1)[0].detach()  # A_k, (2, 6, 6)
    for target in (0, 1):
        # y_c = sum_k W[c, k] * mean(relu(A_k)): d y_c / d A_k(i, j) = W[c, k] * [A_k(i, j) > 0] / 36, and
        # Grad-CAM's weight alpha_k is its mean over the 36 positions.
        alpha = model.fc.weight[target].detach() * (maps > 0).float().mean(dim=(1, 2)) / 36
        expected = torch.relu((alpha[:, None, None] * maps).sum(0)).double().numpy()
        assert (expected > 0).any() and (expected == 0).any()  # the relu matters for this ring
        cam = attribute_image(model, x, "grad_cam", target)
        assert cam.layer == "conv" and not cam.signed
        np.testing.assert_allclose(cam.attribution, expected, rtol=1e-5, atol=1e-7)
        # Guided Grad-CAM is guided backprop times that map (one input channel, no upsampling here).
        guided = attribute_image(model, x, "guided_backprop", target).attribution
        np.testing.assert_allclose(attribute_image(model, x, "guided_grad_cam", target).attribution,
                                   guided * expected, rtol=1e-5, atol=1e-7)


def test_grad_cam_upsamples_a_coarse_layer_bilinearly_to_the_input():
    model, x = lenet5(seed=0), torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(2))
    cam = attribute_image(model, x, "grad_cam", 3, layer="relu2")  # 10 x 10 maps, after the activation
    assert cam.layer == "relu2" and cam.attribution.shape == (28, 28) and (cam.attribution >= 0).all()
    captured = []
    handle = model.relu2.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
    try:
        logit = model(x[None])[0, 3]
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logit, captured[0])
    coarse = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * captured[0]).sum(1, keepdim=True)).detach()
    expected = F.interpolate(coarse, size=(28, 28), mode="bilinear", align_corners=False)[0, 0]
    np.testing.assert_allclose(cam.attribution, expected.double().numpy(), rtol=1e-5, atol=1e-8)
    guided = attribute_image(model, x, "guided_grad_cam", 3, layer="relu2")  # upsampled the same way
    np.testing.assert_allclose(guided.attribution, attribute_image(model, x, "guided_backprop", 3).attribution
                               * cam.attribution, rtol=1e-5, atol=1e-9)
    default = attribute_image(model, x, "grad_cam", 3)
    assert default.layer == "conv2"  # the last Conv2d
    assert not np.allclose(default.attribution, cam.attribution)  # before and after the relu differ


def test_smoothgrad_is_captums_noise_tunnel_fed_the_same_noise():
    from captum.attr import NoiseTunnel, Saliency

    model = lenet5(seed=0)
    x = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(3))
    ours = attribute_image(model, x, "smoothgrad", 2, samples=6, noise=0.2, seed=5)
    with torch.random.fork_rng():  # NoiseTunnel draws from the global state: seed it the same way
        torch.manual_seed(5)
        theirs = NoiseTunnel(Saliency(model)).attribute(x[None].clone().requires_grad_(True), nt_type="smoothgrad",
                                                        nt_samples=6, stdevs=0.2 * float(x.max() - x.min()),
                                                        target=2)
    np.testing.assert_allclose(ours.attribution, theirs[0].sum(0).double().numpy(), rtol=1e-5, atol=1e-9)
    assert ours.options == (("noise", 0.2), ("samples", 6), ("seed", 5))
    assert not np.allclose(attribute_image(model, x, "smoothgrad", 2, samples=6, noise=0.2, seed=6).attribution,
                           ours.attribution)
    no_noise = attribute_image(model, x, "smoothgrad", 2, noise=0.0).attribution
    np.testing.assert_allclose(no_noise, attribute_image(model, x, "saliency", 2).attribution, rtol=1e-5, atol=1e-9)


def test_occlusion_of_a_linear_model_is_each_pixels_weight_times_its_value():
    # Window 1, stride 1: occluding pixel p (set to 0) drops the logit by w_p * x_p.
    model = seq(("flatten", nn.Flatten()), ("fc", nn.Linear(9, 2)))
    x = torch.arange(9.0).reshape(1, 3, 3) - 4
    occlusion = attribute_image(model, x, "occlusion", 1, window=1, stride=1)
    expected = (model.fc.weight[1].detach() * x.flatten()).reshape(3, 3).double().numpy()
    np.testing.assert_allclose(occlusion.attribution, expected, rtol=1e-5, atol=1e-6)
    assert occlusion.signed and occlusion.options == (("stride", 1), ("window", 1))


# --- Integrated Gradients ----------------------------------------------------------------------

def test_integrated_gradients_is_complete_on_the_zoo_lenet(zoo_lenet, digits):
    images, labels = digits
    preprocessing = zoo_lenet.info.preprocessing
    black = preprocessing.apply(np.zeros((1, 1, 28, 28)))
    for image, label in list(zip(images, labels))[:3]:
        ig = attribute_image(zoo_lenet.model, image, "integrated_gradients", label, preprocessing=preprocessing)
        with torch.no_grad():
            logits = zoo_lenet.model(torch.cat([image[None], black]))[:, label]
        assert ig.score_change == pytest.approx(float(logits[0] - logits[1]), rel=1e-5)
        assert abs(ig.attribution.sum() - ig.score_change) <= abs(ig.delta) + 1e-4
        assert abs(ig.delta) / abs(ig.score_change) < 0.05  # measured 0.3% on the first digit
        assert ig.options == (("baseline", "black"), ("n_steps", 50))
        # Black pixels are where x equals the baseline: they get exactly nothing.
        assert (ig.attribution[image[0].numpy() == black[0, 0].numpy()] == 0).all()


def test_integrated_gradients_baselines(zoo_lenet, digits):
    model, preprocessing = zoo_lenet.model, zoo_lenet.info.preprocessing
    image, label = digits[0][0], digits[1][0]
    for baseline in ("blurred", "noise"):
        ig = attribute_image(model, image, "integrated_gradients", label, baseline=baseline,
                             preprocessing=preprocessing)
        assert abs(ig.attribution.sum() - ig.score_change) <= abs(ig.delta) + 1e-4
    noise = [attribute_image(model, image, "integrated_gradients", label, baseline="noise", seed=seed,
                             preprocessing=preprocessing) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(noise[0].attribution, noise[1].attribution)
    assert not np.allclose(noise[0].attribution, noise[2].attribution)
    assert ("seed", 0) in noise[0].options
    # A constant image is its own blurred version: nothing changes on the path, nothing is attributed.
    flat = torch.full((1, 28, 28), 0.7)
    ig = attribute_image(model, flat, "integrated_gradients", 3, baseline="blurred")
    assert abs(ig.score_change) < 1e-5 and np.abs(ig.attribution).max() < 1e-5
    # Without a preprocessing, "black" is zeros in the model's input space.
    plain = attribute_image(model, image, "integrated_gradients", label)
    with torch.no_grad():
        logits = model(torch.stack([image, torch.zeros_like(image)]))[:, label]
    assert plain.score_change == pytest.approx(float(logits[0] - logits[1]), rel=1e-5)


# --- sanity check ------------------------------------------------------------------------------

def test_spearman_ranks_ties_by_their_average_and_has_none_for_a_constant_map():
    from scipy.stats import spearmanr

    a, b = np.array([[1.0, 2.0], [2.0, 3.0]]), np.array([[0.5, 0.1], [0.7, 0.9]])
    assert _spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel())[0])
    assert _spearman(a, -a) == pytest.approx(-1.0) and np.isnan(_spearman(a, np.ones((2, 2))))


def test_randomising_the_zoo_lenet_destroys_grad_cam_but_not_integrated_gradients(zoo_lenet, digits):
    images, labels = digits
    options = {"preprocessing": zoo_lenet.info.preprocessing}
    cam = sanity_check(zoo_lenet.model, images[0], "grad_cam", labels[0], **options)
    assert cam.steps == ("original", "fc3", "fc2", "fc1", "conv2", "conv1")  # top (logits) first
    assert cam.maps.shape == (6, 28, 28) and cam.spearman.shape == cam.ssim.shape == (6,)
    assert cam.spearman[0] == cam.ssim[0] == 1.0
    np.testing.assert_array_equal(cam.maps[0], attribute_image(zoo_lenet.model, images[0], "grad_cam",
                                                               labels[0]).attribution)
    # Measured at full randomisation on test digits 0-7: Grad-CAM -0.23 .. 0.33 (digit 0: -0.15); IG with a black
    # baseline 0.96 .. 0.99
    # (its map is x - baseline times an average gradient, and the black background is exactly 0 in both).
    assert cam.spearman[-1] < 0.3
    ig = sanity_check(zoo_lenet.model, images[0], "integrated_gradients", labels[0], n_steps=20, **options)
    assert ig.spearman[-1] > 0.9 and (ig.ssim[1:] < 0.9).all()
    again = sanity_check(zoo_lenet.model, images[0], "grad_cam", labels[0], layers=["fc3", "conv1"], **options)
    assert again.steps == ("original", "fc3", "conv1")
    np.testing.assert_array_equal(again.maps[1], cam.maps[1])  # seeded: the same first re-initialisation


# --- deletion and insertion --------------------------------------------------------------------

def test_deletion_and_insertion_curves_of_a_linear_model_by_hand():
    # logit 0 = 2 a + 1.5 b + 1 c + 0.5 d over the pixels (a, b; c, d) of an image of ones, logit 1 = 0:
    # p(class 0) = sigmoid(logit 0). The map orders a, b, c, d; deleting them one by one leaves 5, 3, 1.5, 0.5, 0.
    model = seq(("flatten", nn.Flatten()), ("fc", nn.Linear(4, 2)))
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[2.0, 1.5, 1.0, 0.5], [0, 0, 0, 0]]))
        model.fc.bias.zero_()
    result = deletion_insertion(model, torch.ones(1, 2, 2), np.array([[4.0, 3.0], [1.0, -1.0]]), 0, steps=4)
    deleted = torch.sigmoid(torch.tensor([5.0, 3.0, 1.5, 0.5, 0.0])).double().numpy()
    inserted = torch.sigmoid(torch.tensor([0.0, 2.0, 3.5, 4.5, 5.0])).double().numpy()
    np.testing.assert_allclose(result.fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(result.deletion, deleted, rtol=1e-6)  # d (map -1, most negative) goes last
    np.testing.assert_allclose(result.insertion, inserted, rtol=1e-6)
    assert result.deletion_auc == pytest.approx(np.trapezoid(deleted, result.fractions))
    assert result.method == "map" and result.target == 0
    # Random order: the same end points; the curve in between depends on the seed only.
    assert result.random_deletion[0] == pytest.approx(deleted[0]) and result.random_deletion[-1] == pytest.approx(0.5)
    same = deletion_insertion(model, torch.ones(1, 2, 2), np.zeros((2, 2)), 0, steps=4)
    np.testing.assert_array_equal(same.random_insertion, result.random_insertion)
    np.testing.assert_array_equal(same.deletion, same.random_deletion)  # a constant map: all ties, random order
    # A baseline of 1 everywhere changes nothing; a blurred image of ones is ones.
    nothing = deletion_insertion(model, torch.ones(1, 2, 2), np.arange(4.0).reshape(2, 2), 0, steps=2,
                                 baseline=torch.ones(1, 1, 1), blur_insertion=True)
    np.testing.assert_allclose(np.concatenate([nothing.deletion, nothing.insertion]), deleted[0], rtol=1e-6)


def test_deletion_and_insertion_on_the_zoo_lenet_beat_a_random_order(zoo_lenet, digits):
    images, labels = digits
    aucs = []
    for image, label in list(zip(images, labels))[:4]:
        ig = attribute_image(zoo_lenet.model, image, "integrated_gradients", label, n_steps=20,
                             preprocessing=zoo_lenet.info.preprocessing)
        result = deletion_insertion(zoo_lenet.model, image, ig, label)
        assert isinstance(result, DeletionInsertion) and result.method == "integrated_gradients"
        assert result.fractions.shape == result.deletion.shape == result.random_insertion.shape == (21,)
        with torch.no_grad():
            p = torch.softmax(zoo_lenet.model(image[None]), dim=1)[0, label].item()
        assert result.deletion[0] == pytest.approx(p, rel=1e-5) and result.insertion[-1] == pytest.approx(p, rel=1e-5)
        aucs.append((result.deletion_auc, result.random_deletion_auc, result.insertion_auc,
                     result.random_insertion_auc))
    black = deletion_insertion(zoo_lenet.model, image, ig, label, preprocessing=zoo_lenet.info.preprocessing)
    same = deletion_insertion(zoo_lenet.model, image, ig, label,
                              baseline=zoo_lenet.info.preprocessing.apply(np.zeros((1, 1, 28, 28))))
    np.testing.assert_array_equal(black.deletion, same.deletion)
    assert black.deletion[-1] < result.deletion[-1]  # a black image is less of a digit than a mean-grey one
    deletion, random_deletion, insertion, random_insertion = np.mean(aucs, axis=0)
    # Measured on the 8 first test digits: deletion 0.15 vs random 0.79, insertion 0.98 vs random 0.78.
    assert deletion < random_deletion - 0.3 and insertion > random_insertion + 0.1


# --- the model is left alone, errors -----------------------------------------------------------

def test_the_model_and_the_global_random_state_are_left_as_they_were():
    model = lenet5(seed=0)
    model.relu1 = nn.ReLU(inplace=True)  # captum's backward hooks refuse it: the copy is made out-of-place
    model.train()
    model.fc1.eval()  # one module in another mode than its parent: flags are kept per module
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    flags = [module.training for module in model.modules()]
    rng = torch.random.get_rng_state()
    x = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():  # a caller without gradients: the methods still get theirs
        results = [attribute_image(model, x, method, 1, n_steps=8, samples=3) for method in METHODS]
        results.append(sanity_check(model, x, "guided_backprop", 1, layers=["fc3", "fc2"]))
        results.append(deletion_insertion(model, x, results[0], 1, steps=4))
    assert all(np.isfinite(r.attribution).all() for r in results[:len(METHODS)])
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert [module.training for module in model.modules()] == flags and model.relu1.inplace
    for module in model.modules():
        assert not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                    or module._backward_pre_hooks)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "lime"}, "method must be one of"),
    ({"baseline": "white"}, "baseline must be one of"),
    ({"target": 10}, r"target must be a class 0 \.\. 9"),
    ({"target": -1}, "target must be a class"),
    ({"target": 1.0}, "target must be a class"),
    ({"layer": "fc1", "method": "grad_cam"}, "not the feature maps"),
    ({"layer": "conv9", "method": "grad_cam"}, "Unknown layer 'conv9'"),
    ({"x": torch.zeros(28, 28)}, r"one preprocessed image of shape \(C, H, W\)"),
    ({"x": torch.zeros(2, 1, 28, 28)}, "one preprocessed image"),
    ({"x": torch.zeros(3, 28, 28)}, "cannot read an image of shape"),
    ({"x": torch.full((1, 28, 28), float("nan"))}, "NaN"),
    ({"n_steps": 0}, "n_steps must be at least 1"),
    ({"samples": 0}, "samples must be at least 1"),
    ({"noise": -0.1}, "noise must be 0 or more"),
    ({"window": 29}, r"window must be 1 \.\. 28"),
    ({"stride": 0}, "stride must be at least 1"),
])
def test_bad_arguments_get_a_clear_message(kwargs, message):
    arguments = {"model": lenet5(seed=0), "x": torch.zeros(1, 28, 28), "method": "saliency", "target": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        attribute_image(**arguments)


def test_bad_arguments_of_the_checks_get_a_clear_message():
    model, x = lenet5(seed=0), torch.zeros(1, 28, 28)
    with pytest.raises(ValueError, match="convolution, linear or batch norm"):
        sanity_check(model, x, "saliency", 0, layers=["relu1"])
    with pytest.raises(ValueError, match="convolution, linear or batch norm"):
        sanity_check(model, x, "saliency", 0, layers="fc3")
    with pytest.raises(ValueError, match=r"shape \(28, 28\)"):
        deletion_insertion(model, x, np.zeros((28, 27)), 0)
    with pytest.raises(ValueError, match="finite"):
        deletion_insertion(model, x, np.full((28, 28), np.nan), 0)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        deletion_insertion(model, x, np.zeros((28, 28)), 0, steps=0)
    with pytest.raises(ValueError, match="does not fit"):
        deletion_insertion(model, x, np.zeros((28, 28)), 0, baseline=torch.zeros(3, 28, 28))
    with pytest.raises(ValueError, match="target must be a class"):
        deletion_insertion(model, x, np.zeros((28, 28)), 12)


# --- every method on both zoo CNNs -------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_a_finite_float64_map_of_the_inputs_size(method, zoo_lenet, zoo_tiny_vgg, digits):
    tiny_vgg = zoo_tiny_vgg
    images, labels = make_shapes(1, size=32, seed=0)
    shape = tiny_vgg.info.preprocessing.apply(images)[0]
    for trained, x, target, size in ((zoo_lenet, digits[0][0], digits[1][0], 28),
                                     (tiny_vgg, shape, int(labels[0]), 32)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no captum warning (e.g. "did not already require gradients")
            warnings.filterwarnings("ignore", "Setting backward hooks on ReLU")
            result = attribute_image(trained.model, x, method, target, n_steps=16,
                                     preprocessing=trained.info.preprocessing)
        assert isinstance(result, ImageAttribution) and result.method == method and result.target == target
        assert result.attribution.shape == (size, size) and result.attribution.dtype == np.float64
        assert np.isfinite(result.attribution).all() and np.abs(result.attribution).max() > 0
        assert result.signed == (method not in ("saliency", "smoothgrad", "grad_cam"))
        assert (result.layer is not None) == ("grad_cam" in method)
        assert (result.delta is not None) == (result.score_change is not None) == (method == "integrated_gradients")
