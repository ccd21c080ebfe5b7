"""Server time of building figures whose size grows with a layer's channels (not part of the tests).

    python -m benchmarks.bench_figures [--repeats 5] [--compare OLD_FEATURES.py]

`plot_feature_maps` for 16, 64 and 512 channels of 14x14 maps: building the figure,
and building plus serialising it to JSON as Streamlit does. "capped" is the default
(the first 64 channels drawn), "all" draws every channel (`max_channels=C`), which
shows that the cost per channel stays flat (linear, not quadratic). `--compare` times
another version of the function too, from a Python file that defines
`plot_feature_maps` (for example the one before a change:
`git show HEAD:cnnviz/plots/features.py > /tmp/old_features.py`). Medians in milliseconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform

import numpy as np

from benchmarks.bench_views import median_ms
from cnnviz.plots import plot_feature_maps

CHANNELS = (16, 64, 512)
SIZE = 14


def load_function(path: str):
    spec = importlib.util.spec_from_file_location("compared_features", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.plot_feature_maps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", metavar="FILE", help="a .py file defining another plot_feature_maps")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    rng = np.random.default_rng(0)
    versions = {"capped (default)": plot_feature_maps,
                "all channels": lambda maps: plot_feature_maps(maps, max_channels=len(maps))}
    if args.compare:
        versions[f"compared ({args.compare})"] = load_function(args.compare)
    print(f"plot_feature_maps, {SIZE}x{SIZE} maps: build / build+json, ms (median of {args.repeats})")
    print(f"  {'version':40s} " + " ".join(f"{f'{c} ch':>17s}" for c in CHANNELS))
    for name, plot in versions.items():
        cells = []
        for channels in CHANNELS:
            maps = rng.normal(size=(channels, SIZE, SIZE)).astype(np.float32)
            build = median_ms(lambda: plot(maps), args.repeats)
            full = median_ms(lambda: plot(maps).to_json(), args.repeats)
            cells.append(f"{build:7.1f} /{full:8.1f}")
        print(f"  {name:40s} " + " ".join(f"{cell:>17s}" for cell in cells))


if __name__ == "__main__":
    main()
