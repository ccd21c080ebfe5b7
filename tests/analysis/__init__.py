"""Tests of analysis: compute_X functions and their dataclasses (cnnviz.analysis)."""
