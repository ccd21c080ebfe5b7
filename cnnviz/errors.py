"""Exceptions that carry a message meant for the person using cnnviz.

Each one is raised for bad input (a file, a data set that cannot be reached) and
its text is shown as it is on the page, so it says what went wrong and what to do.
"""


class CnnvizError(Exception):
    """Base class of every error whose message is written for the user."""


class ModelLoadError(CnnvizError):
    """A model file was refused: wrong kind, damaged, unsafe or for another architecture."""


class ImageLoadError(CnnvizError):
    """An uploaded image could not be decoded or is outside the size limits."""


class DatasetUnavailableError(CnnvizError):
    """A data set could not be loaded, e.g. an online one without a network."""


class BadArgumentError(CnnvizError, ValueError):
    """An argument a function cannot use (an unknown layer, a channel out of range, too few steps).

    Also a ValueError, as the analysis functions' other refusals are.
    """
