"""Tests of models: specs, builders, costs, training, model files and the zoo (cnnviz.models)."""
