"""Tests of figures: plot_X functions (cnnviz.plots)."""
