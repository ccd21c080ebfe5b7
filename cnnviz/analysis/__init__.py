"""Analysis: compute_X(model, inputs) -> XInfo, frozen dataclasses of numpy arrays.

The public names are re-exported from `cnnviz`.
"""
