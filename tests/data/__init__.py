"""Tests of data sets: images, text corpora, tokenizer and vocabulary (cnnviz.data)."""
