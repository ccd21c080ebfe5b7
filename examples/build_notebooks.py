"""Write the example notebooks in this folder from the cells below (outputs cleared, ready to commit).

Run `python examples/build_notebooks.py` after editing a cell here; tests/test_notebooks.py executes the
written .ipynb files. The notebooks use only the public API (`import cnnviz`, `cnnviz.plots`) and the
offline zoo models and data sets, so they run without a network.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Each notebook: (file stem, [cells]); a cell is ("md" | "code", source).
NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_lenet5_feature_maps_receptive_fields"] = [
    ("md", """
    # LeNet-5: feature maps (特征图) and receptive fields (感受野)

    Lecture §1.1 *Sparse Interaction* (稀疏交互): each output of a convolution is wired to a small local
    window of the layer before it, k·n weights instead of the m·n of a dense layer. Stacking such layers
    (and pooling) lets a unit deeper in the network see a larger part of the input: its **receptive field**.

    We use LeNet-5 (LeCun et al. 1998), the network the lecture's figure shows, trained on scikit-learn's
    8×8 digits (upscaled to 28×28) and shipped in cnnviz's offline model zoo.
    """),
    ("code", """
    import cnnviz
    import cnnviz.plots

    trained = cnnviz.load_zoo_model("lenet5-digits")
    model, prep = trained.model, trained.info.preprocessing
    print(trained.info.name, "- test accuracy", f"{trained.info.test_accuracy:.1%}")
    model
    """),
    ("md", """
    ## Parameters, counted by hand

    A convolution with C_in inputs, C_out outputs and a k×k kernel has C_out·(C_in·k·k + 1) weights and
    biases, whatever the image size (parameter sharing, 参数共享); a dense layer has n_out·(n_in + 1).
    """),
    ("code", """
    by_hand = {
        "conv1": 6 * (1 * 5 * 5 + 1),      # 156
        "conv2": 16 * (6 * 5 * 5 + 1),     # 2,416
        "fc1": 120 * (16 * 5 * 5 + 1),     # 48,120
        "fc2": 84 * (120 + 1),             # 10,164
        "fc3": 10 * (84 + 1),              # 850
    }
    total = cnnviz.count_parameters(model)
    print(f"{total:,} parameters")
    assert total == sum(by_hand.values()) == 61_706

    fig = cnnviz.plots.plot_architecture(cnnviz.model_summary(model, prep.input_shape), prep.input_shape)
    fig.show()
    """),
    ("md", "## One digit and what the network thinks of it"),
    ("code", """
    digits = cnnviz.load_image_dataset("digits")
    image = digits.x_test[0]                      # (1, 28, 28) in [0, 1]
    x = prep.apply(image[None])[0]                # normalised as in training
    probabilities = cnnviz.predict_proba(model, x[None])[0]
    predicted = trained.info.class_names[probabilities.argmax()]
    print("label", digits.class_names[digits.y_test[0]], "- predicted", predicted)

    fig = cnnviz.plots.plot_class_probabilities(probabilities, trained.info.class_names)
    fig.show()
    """),
    ("md", """
    ## Feature maps

    Each of conv1's 6 channels is one 5×5 kernel slid over the whole digit; conv2's 16 channels combine them.
    Same padding keeps conv1's maps at 28×28; conv2 has no padding, so 14 − 5 + 1 = 10.
    """),
    ("code", """
    maps = cnnviz.feature_maps(model, x, layers=["conv1", "conv2"])
    assert maps["conv1"].shape == (6, 28, 28) and maps["conv2"].shape == (16, 10, 10)

    fig = cnnviz.plots.plot_feature_maps(maps["conv1"], scale="layer")
    fig.show()
    cnnviz.plots.plot_feature_maps(maps["conv2"], scale="layer").show()
    """),
    ("md", """
    ## Receptive field sizes, by hand

    Going up one layer with kernel k and stride s, the receptive field grows by (k − 1)·j pixels, where j
    (the *jump*) is the product of the strides below: r ← r + (k − 1)·j, then j ← j·s.

    | layer | k | s | r | j |
    |---|---|---|---|---|
    | conv1 | 5 | 1 | 1 + 4·1 = 5 | 1 |
    | pool1 | 2 | 2 | 5 + 1·1 = 6 | 2 |
    | conv2 | 5 | 1 | 6 + 4·2 = 14 | 2 |
    | pool2 | 2 | 2 | 14 + 1·2 = 16 | 4 |

    After `flatten`, every unit sees the whole image.
    """),
    ("code", """
    records = cnnviz.receptive_fields(model, prep.input_shape)
    sizes = {r.name: r.size for r in records if r.size is not None}
    print(sizes)
    assert [sizes[name] for name in ("conv1", "pool1", "conv2", "pool2")] == [(5, 5), (6, 6), (14, 14), (16, 16)]
    assert next(r for r in records if r.name == "pool2").jump == (4, 4)

    fig = cnnviz.plots.plot_receptive_field_sizes(records)
    fig.show()
    """),
    ("md", """
    ## The effective receptive field

    The theoretical window is where a unit *can* look; the gradient of the unit with respect to the input
    shows where it actually does (Luo et al. 2016). Below: the centre unit of conv2, its 14×14 window
    (the box) and |d unit / d input| averaged over 64 test digits.
    """),
    ("code", """
    record = next(r for r in records if r.name == "conv2")
    unit = (5, 5)
    box = record.box(unit, (prep.size, prep.size))    # (top, left, bottom, right), inclusive
    top, left, bottom, right = box
    assert (bottom - top + 1, right - left + 1) == (14, 14)

    inputs = prep.apply(digits.x_test[:64])
    erf = cnnviz.effective_receptive_field(model, inputs, "conv2", unit, channel=0)
    fraction = cnnviz.gradient_mass_fraction(erf, box)
    print(f"95% of the gradient inside the box lies on {fraction:.0%} of its pixels")
    outside = erf.sum() - erf[..., top:bottom + 1, left:right + 1].sum()
    assert outside == 0  # nothing outside the theoretical window can reach the unit

    fig = cnnviz.plots.plot_effective_receptive_field(erf, box, fraction=fraction)
    fig.show()
    """),
    ("md", """
    ## Sparse interaction in one dimension

    n = 8 inputs, kernel k = 3, no padding: 8 − 3 + 1 = 6 outputs, each wired to 3 inputs (18 connections),
    all sharing the same 3 weights, where a dense layer would need 8·6 = 48.
    """),
    ("code", """
    conn = cnnviz.connectivity(8, 3)
    print(conn.n_outputs, "outputs;", conn.conv_connections, "connections;", conn.conv_weights, "shared weights;",
          conn.dense_weights, "dense weights")
    assert (conn.n_outputs, conn.conv_connections, conn.conv_weights, conn.dense_connections) == (6, 18, 3, 48)

    fig = cnnviz.plots.plot_connectivity(conn)
    fig.show()
    """),
]

NOTEBOOKS["02_equivariance_and_pooling"] = [
    ("md", """
    # Parameter sharing (参数共享), equivariance (平移等变性) and pooling (池化)

    Lecture §1.2 and §2. One kernel is used at every position, so a convolution is translation
    **equivariant**: shift the image and the feature map shifts with it, f(Sx) = S f(x). Pooling
    (mean or max, 降采样 downsampling) then makes the output **invariant** to small shifts: it changes little.
    Be precise with the words: convolution is equivariant, pooling makes invariant.
    """),
    ("code", """
    import numpy as np
    import torch

    import cnnviz
    import cnnviz.plots
    """),
    ("md", """
    ## Exact equivariance: circular padding, stride 1

    A small stack of three 3×3 convolutions with *circular* padding (the image wraps around, so no border
    breaks the symmetry). Shifting a random image by (3, 5) pixels, circularly, shifts every map by exactly
    (3, 5): the error is 0 up to floating point.
    """),
    ("code", """
    toy = cnnviz.toy_model(padding_mode="circular")
    x = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0))
    errors = cnnviz.equivariance_errors(toy.model, x, (3, 5), mode="circular")
    for e in errors:
        print(f"{e.name:6} jump {e.jump}  map shift {e.map_shift}  relative error {e.error:.1e}")
    assert all(e.exact and e.error < 1e-6 for e in errors)

    fig = cnnviz.plots.plot_equivariance_errors(errors)
    fig.show()
    """),
    ("md", """
    ## Stride breaks it

    With stride 2 in conv2, a map unit after it stands for 2 pixels (jump 2): a shift of (3, 5) pixels would
    be (1.5, 2.5) units, which no map can do, so from conv2 on the error is far from 0.
    """),
    ("code", """
    strided = cnnviz.toy_model(padding_mode="circular", stride=2)
    errors = cnnviz.equivariance_errors(strided.model, x, (3, 5), mode="circular")
    by_name = {e.name: e for e in errors}
    print({name: (e.map_shift, round(e.error, 2)) for name, e in by_name.items()})
    assert by_name["conv1"].error < 1e-6 and by_name["conv2"].map_shift == (1.5, 2.5)
    assert not by_name["conv2"].exact and by_name["conv2"].error > 0.1

    cnnviz.plots.plot_equivariance_errors(errors).show()
    """),
    ("md", """
    ## A real network: LeNet-5 on a digit

    With zero padding, equivariance holds away from the border; cnnviz compares only the units whose whole
    receptive field lies inside the shifted image's content. A shift of (2, 2) pixels is a whole number of
    units up to conv2 (jump 2), but half a unit at pool2 (jump 4).
    """),
    ("code", """
    lenet = cnnviz.load_zoo_model("lenet5-digits")
    prep = lenet.info.preprocessing
    image = cnnviz.load_image_dataset("digits").x_test[0]
    xl = prep.apply(image[None])[0]
    errors = {e.name: e for e in cnnviz.equivariance_errors(lenet.model, xl, (2, 2))}
    print({name: round(e.error, 3) for name, e in errors.items()})
    assert errors["conv1"].error < 1e-6 and errors["conv2"].error < 1e-6 and not errors["pool2"].exact

    view = cnnviz.equivariance_view(lenet.model, xl, (2, 2), "conv1", 0)
    fig = cnnviz.plots.plot_equivariance_view(view)
    fig.show()
    """),
    ("md", """
    ## What sharing saves

    conv1 of LeNet-5: 6·(5·5 + 1) = 156 parameters. Without sharing (a *locally connected* layer: the same
    windows, a separate kernel at each of the 28·28 positions) it would be 156·784 = 122,304; a dense layer
    between the same shapes, (1·28·28 + 1)·(6·28·28) = 3,692,640.
    """),
    ("code", """
    counts = cnnviz.layer_parameter_counts(lenet.model, prep.input_shape)
    conv1 = counts[0]
    print(conv1)
    assert (conv1.conv, conv1.locally_connected, conv1.dense) == (156, 122_304, 3_692_640)

    fig = cnnviz.plots.plot_parameter_counts(counts)
    fig.show()
    """),
    ("md", """
    ## Mean and max pooling, by hand

    A 4×4 map, 2×2 windows, stride 2: max pooling keeps the largest value of each window, mean pooling
    its average.
    """),
    ("code", """
    feature_map = np.array([[1, 2, 0, 1],
                            [3, 4, 1, 0],
                            [0, 1, 5, 2],
                            [1, 0, 3, 6]], dtype=np.float32)
    max_pooled = cnnviz.pool(feature_map, "max", 2, 2)
    mean_pooled = cnnviz.pool(feature_map, "avg", 2, 2)
    print(max_pooled.output[0], mean_pooled.output[0], sep="\\n")
    assert max_pooled.output[0].tolist() == [[4, 1], [1, 6]]
    assert mean_pooled.output[0].tolist() == [[2.5, 0.5], [0.5, 4.0]]

    fig = cnnviz.plots.plot_pooling(feature_map, max_pooled)
    fig.show()
    """),
    ("md", """
    ## Invariance, measured

    TinyVGG on the offline shapes: shift 64 test images by −4…4 pixels and measure, per layer, how much
    its output changes (relative to the unshifted one). Each max-pooling layer changes less than the layer
    it pools: pooling makes the representation more invariant to small shifts.
    """),
    ("code", """
    vgg = cnnviz.load_zoo_model("tinyvgg-shapes")
    vprep = vgg.info.preprocessing
    batch = vprep.apply(cnnviz.load_image_dataset("shapes").x_test[:64])
    amounts = [-4, -3, -2, -1, 0, 1, 2, 3, 4]
    curves = cnnviz.invariance_curves(vgg.model, batch, "translate", amounts)
    stages = cnnviz.pooling_stages(vgg.model, vprep.input_shape)
    layers = list(curves.layers)
    for stage in stages:
        i = layers.index(stage.name)
        before, after = curves.change[5, i - 1], curves.change[5, i]
        print(f"shift 1 px: {layers[i - 1]} changes {before:.2f}, {stage.name} {after:.2f}")
        assert curves.change[5, i] < curves.change[5, i - 1]
    print("same prediction:", dict(zip(amounts, curves.same_prediction.round(2).tolist())))

    fig = cnnviz.plots.plot_invariance_curves(curves, highlight=[s.name for s in stages])
    fig.show()
    """),
]

NOTEBOOKS["03_textcnn_with_captum"] = [
    ("md", """
    # TextCNN for text classification (CNN 文本分类), explained with Captum

    Lecture §3. A sentence of N words becomes an N×K matrix of word embeddings (输入层); filters of several
    widths slide over it like n-grams (卷积层); 1-max pooling over time keeps each filter's largest value, so
    any sentence length gives a fixed-length vector (池化层); a fully connected layer with softmax gives the
    class probabilities (全连接层). The lecture's shallow comparison is fastText.

    The zoo's TextCNN was trained on cnnviz's offline, procedural sentiment corpus, built so that word order
    matters ("not good", "dull at first but wonderful in the end").
    """),
    ("code", """
    import numpy as np

    import cnnviz
    import cnnviz.plots

    trained = cnnviz.load_zoo_model("textcnn-sentiment")
    model, prep = trained.model, trained.info.preprocessing
    spec = trained.info.spec
    print(spec)
    model
    """),
    ("md", """
    ## Parameters, by hand

    V = 142 words × K = 32 dimensions of embeddings; for each width w, 16 filters of w·K weights and a bias;
    a linear head from the 3·16 pooled values to 2 classes.
    """),
    ("code", """
    V, K, F, C = spec.vocab_size, spec.embedding_dim, spec.filters, spec.num_classes
    by_hand = V * K + sum(F * (w * K + 1) for w in spec.widths) + (F * len(spec.widths)) * C + C
    print(f"{V}·{K} + ... = {by_hand:,}")
    assert cnnviz.count_parameters(model) == by_hand == 9_298
    """),
    ("md", "## One sentence: the N×K matrix"),
    ("code", """
    sentence = "the film was not good"
    tokens = prep.encode_batch([sentence])[0]
    print(cnnviz.encode_sentence(prep, sentence))
    embedded = model.embedding.weight.detach().numpy()[tokens.numpy()]
    assert embedded.shape == (5, K)   # N = 5 words, K = 32

    probabilities = cnnviz.predict_proba(model, tokens[None])[0]
    print({name: round(float(p), 3) for name, p in zip(trained.info.class_names, probabilities)})

    acts = cnnviz.ngram_activations(model, tokens, prep.vocabulary)
    fig = cnnviz.plots.plot_embedding_matrix(acts.tokens[:len(tokens)], embedded)
    fig.show()
    """),
    ("md", """
    ## n-gram activations and 1-max pooling

    A filter of width w has N − w + 1 positions in a sentence of N words: 4, 3 and 2 for widths 2, 3, 4 here.
    1-max pooling keeps the largest of them, and the three widths' 16 values each make the 48-long vector
    the linear head reads.
    """),
    ("code", """
    for w, a, pooled in zip(acts.widths, acts.activations, acts.pooled):
        print(f"width {w}: activations {a.shape}, pooled {pooled.shape}")
        assert a.shape == (F, len(tokens) - w + 1)
        assert np.allclose(pooled, a.max(axis=1))
    assert acts.pooled_vector.shape == (F * len(spec.widths),)

    cnnviz.plots.plot_ngram_activations(acts, 0).show()
    cnnviz.plots.plot_winning_ngrams(acts, 0).show()
    fig = cnnviz.plots.plot_pooled_vector(acts)
    fig.show()
    """),
    ("md", """
    ## Which words decide? Integrated Gradients (Captum)

    `attribute_tokens` runs captum's LayerIntegratedGradients on the embedding, from an all-padding sentence.
    *Completeness*: the attributions add up to the change of the class score from the baseline to this
    sentence, up to the convergence delta, which must stay within 1% of that change (IG_TOLERANCE).
    """),
    ("code", """
    positive = trained.info.class_names.index("positive")
    attribution = cnnviz.attribute_tokens(model, tokens, positive, vocabulary=prep.vocabulary,
                                          method="integrated_gradients", n_steps=50)
    print({token: round(float(a), 3) for token, a in zip(attribution.tokens, attribution.attributions)})
    total, change = attribution.attributions.sum(), attribution.prediction_difference
    print(f"sum {total:.4f}, score change {change:.4f}, relative delta {attribution.relative_delta:.2%}")
    assert attribution.converged
    assert abs(total - change) <= cnnviz.IG_TOLERANCE * abs(change) + 1e-3

    fig = cnnviz.plots.plot_token_attributions(attribution, class_name="positive")
    fig.show()
    """),
    ("md", "## What one filter looks for, over the test corpus"),
    ("code", """
    corpus = cnnviz.load_text_corpus("sentiment")
    x_test, y_test = corpus.test_tensors()
    evaluation = cnnviz.evaluate(model, x_test, y_test)
    print(f"TextCNN test accuracy {evaluation.accuracy:.1%}")

    top = cnnviz.top_ngrams(model, x_test, prep.vocabulary, width_index=1, filter_index=0, k=10)
    fig = cnnviz.plots.plot_top_ngrams(top)
    fig.show()
    """),
    ("md", """
    ## The shallow comparison: fastText

    A bag of words: the mean of the word embeddings, then one linear layer, V·K + K·C + C parameters.
    Trained for 3 epochs here (a few seconds). It sees which words occur but not their order, so negation
    ("not good") and contrast ("dull at first but wonderful") defeat it: it stays well below TextCNN here.
    """),
    ("code", """
    fast = cnnviz.untrained_text_model("fasttext", corpus, seed=0)
    assert fast.parameters == V * K + K * C + C == 4_610
    config = cnnviz.TrainConfig(epochs=3, batch_size=64, learning_rate=0.01)
    result = cnnviz.train(fast.model, corpus.train_tensors(), config)
    fast_accuracy = cnnviz.evaluate(fast.model, x_test, y_test).accuracy
    print(f"fastText test accuracy {fast_accuracy:.1%} vs TextCNN {evaluation.accuracy:.1%}")
    cnnviz.plots.plot_training_curves(result.history).show()
    """),
]

NOTEBOOKS["04_resnet_vs_plain_gradients"] = [
    ("md", """
    # ResNet (残差网络) versus plain nets: gradients through depth (梯度消失)

    Lecture §4. The deeper a plain network, the harder it is to train: the gradient that reaches the first
    layers shrinks or blows up on its way back through many layers. ResNet (He et al. 2016) adds identity
    shortcuts, x + F(x), so the gradient has a direct path to every block.

    Below: the CIFAR ResNets of He et al. and plain nets with *the same weights* (same seed, only the
    shortcuts removed), at initialisation, on one batch of 64 offline digits. No training is needed to see
    the difference.
    """),
    ("code", """
    import cnnviz
    import cnnviz.plots

    data = cnnviz.load_image_dataset("digits", size=8)
    x, y = data.train_tensors()
    x, y = x[:64], y[:64]     # one batch, the same for every net
    x.shape
    """),
    ("md", """
    ## Counting layers and parameters by hand

    A CIFAR ResNet of depth 6n + 2 has one 3×3 conv, three stages of n blocks of two 3×3 convs (16, 32 and
    64 filters) and one linear layer. For n = 3, depth 20. The identity shortcuts (zero-padded where the
    width doubles) have no parameters, so the plain net and the ResNet have exactly the same count: for
    3-channel CIFAR input, 269,722 (convs without bias, each followed by batch norm's 2 per channel).
    """),
    ("code", """
    def conv_bn(c_in, c_out):
        return c_in * c_out * 9 + 2 * c_out
    by_hand = (conv_bn(3, 16) + 6 * conv_bn(16, 16)
               + conv_bn(16, 32) + 5 * conv_bn(32, 32)
               + conv_bn(32, 64) + 5 * conv_bn(64, 64)
               + 64 * 10 + 10)
    resnet20 = cnnviz.build_resnet(cnnviz.ResNetSpec(depth=20, residual=True), seed=0)
    plain20 = cnnviz.build_resnet(cnnviz.ResNetSpec(depth=20, residual=False), seed=0)
    print(f"{by_hand:,}")
    assert cnnviz.count_parameters(resnet20) == cnnviz.count_parameters(plain20) == by_hand == 269_722
    assert len(cnnviz.weighted_layers(resnet20)) == 20
    """),
    ("md", """
    ## Gradient norms per layer at initialisation, depth 20

    The norm of d(loss)/d(weights) for every conv and linear layer, input to output, and the spread of the
    input each layer sees.
    """),
    ("code", """
    norms, stats = {}, {}
    for residual in (False, True):     # the same weights, without and with the shortcuts
        spec = cnnviz.ResNetSpec(depth=20, in_channels=1, residual=residual)
        model = cnnviz.build_resnet(spec, seed=0)
        norms[spec.label] = cnnviz.gradient_norms(model, x, y)
        stats[spec.label] = cnnviz.activation_stats(model, x)
        print(f"{spec.label}: first conv / last conv gradient norm = {norms[spec.label].ratio():.2f}")
    assert all(len(n.layers) == 20 for n in norms.values())

    fig = cnnviz.plots.plot_gradient_norms(norms, stats)
    fig.show()
    """),
    ("md", """
    ## Deeper: depth 56

    With 56 layers the plain net's gradients are far from even across depth (the first conv's gradient is
    hundreds of times the last conv's here), while the ResNet's stay within a small factor.
    """),
    ("code", """
    deep = {}
    for residual in (False, True):
        spec = cnnviz.ResNetSpec(depth=56, in_channels=1, residual=residual)
        deep[spec.label] = cnnviz.gradient_norms(cnnviz.build_resnet(spec, seed=0), x, y)
    ratios = {label: n.ratio() for label, n in deep.items()}
    print({label: f"{r:.3g}" for label, r in ratios.items()})
    assert ratios["plain-56"] > 10 * ratios["ResNet-56"]

    fig = cnnviz.plots.plot_gradient_norms(deep)
    fig.show()
    """),
]


def _cell(kind: str, source: str, cell_id: str) -> nbformat.NotebookNode:
    text = textwrap.dedent(source).strip("\n")
    cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
    cell["id"] = cell_id   # stable ids: rebuilding an unchanged notebook gives the same file
    return cell


def build(stem: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    notebook = new_notebook(cells=[_cell(kind, source, f"{stem[:2]}-{i:02d}")
                                   for i, (kind, source) in enumerate(cells)])
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def main() -> None:
    for stem, cells in NOTEBOOKS.items():
        path = HERE / f"{stem}.ipynb"
        nbformat.write(build(stem, cells), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
