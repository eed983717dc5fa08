"""Training loop, key derivation and shared models."""
from deeplimits.engine.keys import derive_key, derive_keys, numpy_rng
from deeplimits.engine.models import flat_grad_size, one_hidden_layer_relu
from deeplimits.engine.train import TrainLog, train

__all__ = ["TrainLog", "derive_key", "derive_keys", "flat_grad_size", "numpy_rng",
           "one_hidden_layer_relu", "train"]
