"""Models: specs and builders (CNN, ResNet, text models), costs, training, model files, the zoo.

The public names are re-exported from `cnnviz`.
"""
