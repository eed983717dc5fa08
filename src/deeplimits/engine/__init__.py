"""Training loop, key derivation, devices and shared models."""
from deeplimits.engine.devices import enable_persistent_cache, side_by_side, use_every_core
from deeplimits.engine.keys import derive_key, derive_keys, numpy_rng, random_signs
from deeplimits.engine.models import authors_truncated_normal, flat_grad_size, one_hidden_layer_relu
from deeplimits.engine.optimizers import runtime_learning_rate
from deeplimits.engine.train import TrainLog, seed_models, train

__all__ = ["TrainLog", "authors_truncated_normal", "derive_key", "derive_keys", "enable_persistent_cache",
           "flat_grad_size", "numpy_rng", "one_hidden_layer_relu", "random_signs", "runtime_learning_rate",
           "seed_models", "side_by_side", "train", "use_every_core"]
