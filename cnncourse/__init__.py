"""cnncourse: the companion package of a measured, interactive course on convolutional neural networks.

Import what a notebook needs from its module (``from cnncourse import data, train``);
importing the package itself loads nothing heavy and changes no global state.
"""
__version__ = "0.1.0"

__all__ = ["__version__", "runtime", "data", "models", "train", "viz", "widgets", "checks", "layers", "exercises", "stats", "claims", "drawing"]
