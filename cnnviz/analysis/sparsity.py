"""Sparse interaction and parameter sharing, as counts.

With n inputs and m outputs, a dense layer connects every input to every output:
m*n connections and weights. A convolution connects each output to a window of k
inputs (sparse interaction): k*m connections; and it uses the same k weights at
every position (parameter sharing), so it has k weights whatever the size of the
input (Goodfellow, Bengio & Courville, Deep Learning, 2016, section 9.2, figures
9.2-9.6; the book names the inputs m and the outputs n, so its "k × n" is this
module's k*m). A locally connected layer has the convolution's wiring without the
sharing: one weight per connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnviz.analysis.hooks import eval_with_hooks


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, not {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Connectivity:
    """The wiring of a 1-D convolution of n inputs with one k-wide kernel, against a dense layer.

    One meaning of the letters throughout: n inputs, m outputs, kernel k. A dense
    (fully connected) layer has m·n connections, each with its own weight; the
    convolution has k·m connections, k per output (a window position on padding
    counts: it connects to a constant zero), and only k weights, shared. These are the
    numbers the app's Sparse interaction section and its lesson show.

    `conv_edges` has one row (output index, input index, weight index) per connection
    that reaches a real input; a window position that falls on padding is not an edge.
    """

    n_inputs: int
    n_outputs: int
    kernel_size: int
    stride: int
    padding: int
    conv_edges: np.ndarray  # (E, 3) int64: output j, input i, weight w (0..k-1), by output then weight

    @property
    def dense_connections(self) -> int:
        """Connections of a dense layer with the same inputs and outputs: m·n, every input to every output."""
        return self.n_inputs * self.n_outputs

    @property
    def dense_weights(self) -> int:
        """Weights of that dense layer: one per connection, m·n (biases left out)."""
        return self.dense_connections

    @property
    def conv_connections(self) -> int:
        """Connections of the convolution: k·m, k per output (window positions on padding included)."""
        return self.kernel_size * self.n_outputs

    @property
    def input_connections(self) -> int:
        """The convolution's connections that reach a real input (the lines of the wiring diagram):
        `conv_connections` minus `padding_connections`."""
        return len(self.conv_edges)

    @property
    def padding_connections(self) -> int:
        """Window positions that fall on padding, a constant zero: 0 without padding."""
        return self.conv_connections - self.input_connections

    @property
    def conv_weights(self) -> int:
        """Weights of the convolution: the k of its kernel, shared by every output."""
        return self.kernel_size

    @property
    def locally_connected_weights(self) -> int:
        """Weights of a locally connected layer, the same wiring without sharing: one per connection, k·m
        (padded positions counted, as `LayerParameterCount.locally_connected` counts them)."""
        return self.conv_connections


def connectivity(n_inputs: int, kernel_size: int, *, stride: int = 1, padding: int = 0) -> Connectivity:
    """The connections of a 1-D convolution over n inputs, zero-padded by `padding` on each side.

    Output j sees inputs j*stride - padding + w for w in 0..k-1 that lie inside 0..n-1;
    there are (n + 2*padding - k) // stride + 1 outputs. Raises ValueError for a kernel
    or stride below 1, negative padding, or an input too short for a single output.
    """
    n = _check_int("n_inputs", n_inputs, 1)
    k = _check_int("kernel_size", kernel_size, 1)
    s = _check_int("stride", stride, 1)
    p = _check_int("padding", padding, 0)
    if n + 2 * p < k:
        raise ValueError(f"A kernel of {k} does not fit {n} inputs with padding {p} on each side "
                         f"({n} + 2*{p} = {n + 2 * p} < {k}): there would be no output.")
    m = (n + 2 * p - k) // s + 1
    j, w = np.meshgrid(np.arange(m), np.arange(k), indexing="ij")  # rows by output, then weight
    i = j * s - p + w
    inside = (i >= 0) & (i < n)
    edges = np.stack([j[inside], i[inside], w[inside]], axis=1).astype(np.int64).reshape(-1, 3)
    return Connectivity(n, m, k, s, p, edges)


@dataclass(frozen=True)
class LayerParameterCount:
    """Parameters of one Conv2d, and of the two layers it is usually compared with.

    conv: the convolution itself, Cout*Cin/groups*kh*kw weights (+ Cout biases).
    locally_connected: the same wiring with a separate filter per output position,
    Hout*Wout*(Cout*Cin/groups*kh*kw), plus one bias per output value (Cout*Hout*Wout)
    if the convolution has a bias; padded window positions are counted, as a
    locally connected layer over the padded input would have them.
    dense: a Linear layer from all Cin*Hin*Win inputs to all Cout*Hout*Wout outputs, with bias.
    """

    name: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    conv: int
    locally_connected: int
    dense: int


def layer_parameter_counts(model: nn.Module, input_shape: tuple[int, int, int]) -> list[LayerParameterCount]:
    """One row per nn.Conv2d call in a forward of one zero input of `input_shape` (C, H, W), in call order.

    Shapes come from forward hooks, removed afterwards (also on error); the model runs in
    eval mode without gradients and every module's training flag is restored.
    """
    names = {module: name for name, module in model.named_modules()}
    rows: list[LayerParameterCount] = []

    def hook(module: nn.Conv2d, inputs: Any, output: torch.Tensor) -> None:
        cin, hin, win = (int(v) for v in inputs[0].shape[1:])
        cout, hout, wout = (int(v) for v in output.shape[1:])
        kh, kw = module.kernel_size
        per_position = cout * (cin // module.groups) * kh * kw
        has_bias = module.bias is not None
        outputs = cout * hout * wout
        rows.append(LayerParameterCount(
            name=names[module], input_shape=(cin, hin, win), output_shape=(cout, hout, wout),
            conv=per_position + (cout if has_bias else 0),
            locally_connected=hout * wout * per_position + (outputs if has_bias else 0),
            dense=cin * hin * win * outputs + outputs))

    convs: dict[nn.Module, Callable[..., None]] = {
        module: hook for module in model.modules() if isinstance(module, nn.Conv2d)}
    with eval_with_hooks(model, convs):
        model(torch.zeros(1, *input_shape))
    return rows
