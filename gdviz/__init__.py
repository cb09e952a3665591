"""gdviz: watch gradient-descent optimizers move over a loss surface."""

__version__ = "0.1.0"
