"""Data sets: images and text corpora, with their preprocessing (the lowest layer).

The public names are re-exported from `cnnviz`.
"""
