"""deeplimits: runnable, falsifiable experiments on the limits of gradient-based deep learning."""
__version__ = "0.1.0"
