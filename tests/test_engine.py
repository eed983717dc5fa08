"""The compiled, seed-vectorised loop against itself and against the plain loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deeplimits.engine import derive_key, derive_keys, numpy_rng, one_hidden_layer_relu, train

D, BATCH = 6, 32


def _parity_problem(**kw):
    subsets = jnp.stack([jnp.arange(D) < 3] * kw.pop("n_seeds"))

    def sample(subset, key):
        x = jax.random.rademacher(key, (BATCH, D), dtype=jnp.float32)
        return x, jnp.prod(jnp.where(subset, x, 1.0), axis=1)

    def loss(model, batch):
        x, y = batch
        return jnp.mean(optax.losses.hinge_loss(jax.vmap(model)(x), y))

    def evaluate(model, subset, key):
        x, y = sample(subset, key)
        return {"accuracy": jnp.mean(jnp.sign(jax.vmap(model)(x)) == y)}

    args = dict(init=lambda k: one_hidden_layer_relu(key=k, in_size=D, width=20), loss=loss,
                optimizer=optax.sgd(0.05), sample_batch=sample, evaluate=evaluate, data=subsets)
    args.update(kw)
    return args


def _run(seeds, **kw):
    return train(keys=derive_keys("test", "arm", seeds), **_parity_problem(n_seeds=len(seeds), **kw))


def _leaves(log, index):
    return [np.asarray(leaf[index]) for leaf in jax.tree.leaves(eqx.filter(log.models, eqx.is_array))]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_rerun_is_bit_identical():
    a, b = _run((0, 1, 2), steps=60, eval_every=20), _run((0, 1, 2), steps=60, eval_every=20)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.metrics["accuracy"], b.metrics["accuracy"])
    assert _same(_leaves(a, slice(None)), _leaves(b, slice(None)))


@pytest.mark.parametrize("seeds_by", ["vmap", "map"])
@pytest.mark.parametrize("alone", [0, 3, 7])
def test_seed_alone_equals_seed_inside_a_batch_of_8(alone, seeds_by):
    batch = _run(tuple(range(8)), steps=60, eval_every=20, seeds_by=seeds_by)
    single = _run((alone,), steps=60, eval_every=20, seeds_by=seeds_by)
    assert np.array_equal(single.loss[0], batch.loss[alone])
    assert np.array_equal(single.metrics["accuracy"][0], batch.metrics["accuracy"][alone])
    assert _same(_leaves(single, 0), _leaves(batch, alone))


def test_scanned_loop_equals_plain_python_loop():
    """The plain loop is another XLA program (one unbatched model per step), so it
    matches to float32 rounding rather than bit for bit."""
    scanned = _run((0, 5), steps=12, eval_every=4)
    plain = _run((0, 5), steps=12, eval_every=4, loop="python")
    assert np.array_equal(scanned.steps, plain.steps)
    np.testing.assert_allclose(scanned.loss, plain.loss, rtol=1e-6)
    np.testing.assert_array_equal(scanned.metrics["accuracy"], plain.metrics["accuracy"])
    for a, b in zip(_leaves(scanned, slice(None)), _leaves(plain, slice(None))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mapped_and_vectorised_seeds_agree():
    mapped = _run((0, 1, 2), steps=12, eval_every=4, seeds_by="map")
    vectorised = _run((0, 1, 2), steps=12, eval_every=4)
    np.testing.assert_array_equal(mapped.metrics["accuracy"], vectorised.metrics["accuracy"])
    for a, b in zip(_leaves(mapped, slice(None)), _leaves(vectorised, slice(None))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_results_do_not_depend_on_the_evaluation_chunking():
    a, b = _run((0, 1), steps=30, eval_every=10), _run((0, 1), steps=30, eval_every=7)
    assert list(b.steps) == [7, 14, 21, 28, 30]
    assert _same(_leaves(a, slice(None)), _leaves(b, slice(None)))


def test_training_actually_learns_a_small_parity():
    log = _run((0, 1), steps=2000, eval_every=500)
    assert log.metrics["accuracy"][:, -1].min() > 0.95


def test_divergence_is_reported_per_seed_not_raised():
    def loss(model, batch):
        x, y, poison = batch
        return jnp.mean(optax.losses.hinge_loss(jax.vmap(model)(x), y)) * poison

    def sample(flag, key):
        x = jax.random.rademacher(key, (BATCH, D), dtype=jnp.float32)
        return x, x[:, 0], jnp.where(flag, jnp.nan, 1.0)

    log = train(keys=derive_keys("test", "nan", (0, 1, 2)),
                init=lambda k: one_hidden_layer_relu(key=k, in_size=D, width=8), loss=loss,
                optimizer=optax.sgd(0.1), sample_batch=sample, data=jnp.array([False, True, False]),
                evaluate=lambda m, flag, key: {"accuracy": jnp.float32(1.0)}, steps=10, eval_every=5)
    assert log.diverged.tolist() == [False, True, False]
    assert np.isnan(log.metrics["accuracy"][1]).all() and np.isfinite(log.metrics["accuracy"][[0, 2]]).all()


def test_keys_depend_on_experiment_arm_and_seed_only():
    base = jax.random.key_data(derive_key("parity", "sgd-d5", 3))
    assert np.array_equal(base, jax.random.key_data(derive_key("parity", "sgd-d5", 3)))
    for other in (derive_key("parity", "sgd-d5", 4), derive_key("parity", "sgd-d10", 3),
                  derive_key("linear-periodic", "sgd-d5", 3)):
        assert not np.array_equal(base, jax.random.key_data(other))
    assert numpy_rng("a", "b", 1).integers(1 << 30) == numpy_rng("a", "b", 1).integers(1 << 30)


def test_bad_step_counts_are_rejected():
    with pytest.raises(ValueError, match="steps and eval_every must be >= 1"):
        _run((0,), steps=0, eval_every=1)
