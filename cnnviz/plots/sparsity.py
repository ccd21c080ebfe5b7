"""Figures of sparse interaction and parameter sharing: wiring diagrams and parameter counts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from cnnviz.analysis.sparsity import Connectivity, LayerParameterCount
from cnnviz.plots._common import chosen_labels

_WEIGHT_COLOURS = qualitative.Plotly
_INPUT_Y, _OUTPUT_Y = 0.0, 1.0

# The words of each figure (str.format templates); a `labels` argument with the same keys replaces them.
CONNECTIVITY_LABELS = {
    "dense": "Dense: {weights:,} weights<br>m·n = {m} × {n} = {connections:,} connections",
    "conv": "Convolution: {k} shared weights<br>k·m = {k} × {m} = {connections} connections",
    "conv_one": "Convolution: {k} shared weight<br>k·m = {k} × {m} = {connections} connections",
    "on_padding": "<br>({padding} on padding, {reaching} connections to inputs)",
    "dense_weight": "dense weight",
    "units": "units",
    "input": "input x{i}",
    "sees": "output s{j}: sees {inputs}",
    "only_padding": "only padding",
    "sees_all": "output s{j}: sees all {n} inputs",
    "padding": "padding (0)",
    "padding_hover": "padding: 0",
    "inputs": "inputs x",
    "outputs": "outputs s",
    "legend": "weight ",
    "title": ("n = {n} inputs, m = {m} outputs, k = {k}, stride {stride}, padding {padding}:<br>"
              "no sharing (locally connected) would need {weights} weights"),
}
PARAMETER_COUNTS_LABELS = {
    "conv": "convolution (shared)",
    "locally_connected": "locally connected (no sharing)",
    "dense": "dense (fully connected)",
    "hover": "{name}: {input} → {output}<br>{label}: {count:,} parameters",
    "times": " ({times:,.0f}× the convolution)",
    "empty": "This model has no convolution layers.",
    "y": "parameters",
    "x": "convolution layer",
}


def _segments(x0: np.ndarray, x1: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Lines from (x0, inputs' row) to (x1, outputs' row) as one polyline broken by None (one trace, fast)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, b in zip(x0.tolist(), x1.tolist(), strict=True):
        xs += [a, b, None]
        ys += [_INPUT_Y, _OUTPUT_Y, None]
    return xs, ys


def _output_positions(conn: Connectivity) -> np.ndarray:
    # Each output sits above the centre of its window, so stride and padding show in the layout.
    return np.arange(conn.n_outputs) * conn.stride - conn.padding + (conn.kernel_size - 1) / 2


def plot_connectivity(conn: Connectivity, *, labels: Mapping[str, str] | None = None) -> go.Figure:
    """Dense (left) against convolution (right) wiring of n inputs (bottom row) to m outputs (top row);
    `labels` over CONNECTIVITY_LABELS give its words in another language.

    Left, every input is wired to every output: m·n connections, each its own weight.
    Right, each output is wired to the k positions of its window, k·m connections,
    each line coloured by which of the k shared weights it uses (one legend entry per
    weight, "w0", "w1", ...); padding positions are drawn as open markers and have no
    lines, since they are constant zeros (the title says how many of the k·m fall
    there). The subplot titles carry the counts with their formulas, the same numbers
    as `Connectivity`. Each group of lines is one trace. Readable for up to about 32 inputs.
    """
    words = chosen_labels(CONNECTIVITY_LABELS, labels)
    n, m, k, p = conn.n_inputs, conn.n_outputs, conn.kernel_size, conn.padding
    inputs = np.arange(n, dtype=np.float64)
    outputs = _output_positions(conn)
    # Line breaks keep the titles inside their half of a page column.
    on_padding = (words["on_padding"].format(padding=conn.padding_connections, reaching=conn.input_connections)
                  if conn.padding_connections else "")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.06, subplot_titles=(
        words["dense"].format(weights=conn.dense_weights, m=m, n=n, connections=conn.dense_connections),
        words["conv" if k != 1 else "conv_one"].format(k=k, m=m, connections=conn.conv_connections) + on_padding))

    xs, ys = _segments(np.repeat(inputs, m), np.tile(outputs, n))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="rgba(100,100,100,0.45)", width=1),
                               name=words["dense_weight"], hoverinfo="skip", showlegend=False), row=1, col=1)
    edges = conn.conv_edges
    for w in range(k):
        chosen = edges[edges[:, 2] == w]
        xs, ys = _segments(inputs[chosen[:, 1]], outputs[chosen[:, 0]])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"w{w}",
                                   line=dict(color=_WEIGHT_COLOURS[w % len(_WEIGHT_COLOURS)], width=2),
                                   hoverinfo="skip"), row=1, col=2)

    size = max(5, min(14, int(240 / (n + 2 * p))))
    named = n + 2 * p <= 12  # node names fit only on short rows; hover always has them
    windows = [edges[edges[:, 0] == j, 1] for j in range(m)]
    output_hover = [words["sees"].format(j=j, inputs=", ".join(f"x{i}" for i in seen) if len(seen)
                                         else words["only_padding"]) for j, seen in enumerate(windows)]
    for col in (1, 2):
        fig.add_trace(go.Scatter(
            x=np.concatenate([inputs, outputs]), y=[_INPUT_Y] * n + [_OUTPUT_Y] * m,
            mode="markers+text" if named else "markers", showlegend=False, name=words["units"],
            text=[f"x{i}" for i in range(n)] + [f"s{j}" for j in range(m)], textposition="middle center",
            textfont=dict(size=max(7, size - 5), color="white"),
            marker=dict(size=size * 1.6 if named else size, color=["#444"] * n + ["#1f77b4"] * m),
            hovertext=[words["input"].format(i=i) for i in range(n)] + (
                [words["sees_all"].format(j=j, n=n) for j in range(m)] if col == 1 else output_hover),
            hoverinfo="text"), row=1, col=col)
    if p:
        pads = np.concatenate([np.arange(-p, 0), np.arange(n, n + p)]).astype(np.float64)
        fig.add_trace(go.Scatter(x=pads, y=[_INPUT_Y] * len(pads), mode="markers", name=words["padding"],
                                 marker=dict(size=size * 1.6 if named else size, color="white",
                                             line=dict(color="#444", width=1)),
                                 hovertext=[words["padding_hover"]] * len(pads), hoverinfo="text"), row=1, col=2)

    low, high = min(-p, outputs.min()) - 0.8, max(n - 1 + p, outputs.max()) + 0.8
    fig.update_xaxes(visible=False, range=[low, high])
    fig.update_yaxes(range=[-0.25, 1.25], tickmode="array", tickvals=[_INPUT_Y, _OUTPUT_Y],
                     ticktext=[words["inputs"], words["outputs"]], showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    fig.update_layout(height=390, margin=dict(l=70, r=10, t=120, b=20), plot_bgcolor="white",
                      legend=dict(orientation="h", y=-0.05, title_text=words["legend"]),
                      title=dict(font_size=13, yref="container", y=0.95, yanchor="top", text=words["title"].format(
                          n=n, m=m, k=k, stride=conn.stride, padding=p, weights=conn.locally_connected_weights)))
    return fig


def _compact(value: int) -> str:
    """Exact below 100,000; above, three significant digits with k, M or B (bars stay legible)."""
    if value < 100_000:
        return f"{value:,}"
    for size, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "k")):
        if value >= size:
            return f"{value / size:.3g}{suffix}"
    return str(value)  # not reached


def plot_parameter_counts(rows: Sequence[LayerParameterCount], *,
                          labels: Mapping[str, str] | None = None) -> go.Figure:
    """Grouped bars per convolution layer: its parameters, a locally connected layer's and a dense layer's;
    `labels` over PARAMETER_COUNTS_LABELS give its words in another language.

    The y axis is logarithmic (the three differ by orders of magnitude); bars carry the
    counts as text (abbreviated above 100,000) and the exact counts on hover.
    """
    words = chosen_labels(PARAMETER_COUNTS_LABELS, labels)
    names = [r.name for r in rows]
    fig = go.Figure()
    for attribute, colour in (("conv", "#1f77b4"), ("locally_connected", "#ff7f0e"), ("dense", "#7f7f7f")):
        label = words[attribute]
        counts = [getattr(r, attribute) for r in rows]
        hover = [words["hover"].format(name=r.name, input="×".join(map(str, r.input_shape)),
                                       output="×".join(map(str, r.output_shape)), label=label, count=c)
                 + (words["times"].format(times=c / r.conv) if attribute != "conv" and r.conv else "")
                 for r, c in zip(rows, counts, strict=True)]
        fig.add_trace(go.Bar(x=names, y=counts, name=label, marker_color=colour, text=[_compact(c) for c in counts],
                             textposition="outside", cliponaxis=False, hovertext=hover, hoverinfo="text"))
    if not rows:
        fig.add_annotation(text=words["empty"], showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    # From 1 (10^0) up, so bar heights are the numbers of digits, comparable across layers.
    top = max((r.dense for r in rows), default=10)
    fig.update_yaxes(type="log", title_text=words["y"], range=[0, math.log10(max(top, 10)) + 0.4])
    fig.update_xaxes(type="category", title_text=words["x"])
    fig.update_layout(barmode="group", height=400, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    return fig
