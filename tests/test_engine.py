"""The compiled, seed-vectorised loop against itself and against the plain loop."""

import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deeplimits.engine import derive_key, derive_keys, numpy_rng, one_hidden_layer_relu, random_signs, train

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
def test_seed_alone_equals_seed_inside_batches_of_every_size(seeds_by):
    """Every seed runs in the same instance program whatever the batch (1, 3, 8, 9 or 17 seeds:
    each pads differently to fill the devices and, with vmap, whole blocks)."""
    batches = {n: _run(tuple(range(n)), steps=60, eval_every=20, seeds_by=seeds_by) for n in (3, 8, 9, 17)}
    for alone in (0, 2, 7, 16):
        single = _run((alone,), steps=60, eval_every=20, seeds_by=seeds_by)
        for n, batch in batches.items():
            if alone < n:
                assert np.array_equal(single.loss[0], batch.loss[alone]), (alone, n)
                assert np.array_equal(single.metrics["accuracy"][0], batch.metrics["accuracy"][alone]), (alone, n)
                assert _same(_leaves(single, 0), _leaves(batch, alone)), (alone, n)



class _Indexed(eqx.Module):
    """A model with an integer array beside its weights (as a model holding an index or a mask)."""

    net: eqx.Module
    index: jax.Array

    def __call__(self, x):
        return self.net(x)


@pytest.mark.parametrize("loop", ["scan", "python"])
def test_a_models_integer_arrays_come_back_for_every_seed_of_every_round(loop):
    def init(key):
        return _Indexed(one_hidden_layer_relu(key=key, in_size=D, width=20),
                        jax.random.randint(key, (2,), 0, 1000))

    seeds = (0, 1, 2, 3, 4)  # three rounds on two devices, the last padded
    log = train(keys=derive_keys("test", "arm", seeds), **_parity_problem(n_seeds=5, init=init),
                steps=20, eval_every=20, loop=loop)
    expected = np.stack([np.asarray(init(k).index) for k in jax.vmap(lambda k: jax.random.split(k, 3)[0])(
        derive_keys("test", "arm", seeds))])
    assert log.models.index.shape == (5, 2)
    assert np.array_equal(log.models.index, expected)

def test_seeds_are_spread_over_one_device_per_core():
    from deeplimits.engine.devices import device_count, mesh, usable_cores

    assert mesh().size == len(jax.devices())
    if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        assert len(jax.devices()) == device_count()
        assert device_count() == int(os.environ.get("DEEPLIMITS_CPU_DEVICES") or usable_cores())


def test_a_repeated_train_reuses_its_compiled_program():
    from deeplimits.engine import devices

    _run((0, 1), steps=30, eval_every=10)
    before = dict(devices.stats)
    _run((0, 1), steps=30, eval_every=10)  # new closures, same program: no compilation
    assert devices.stats["compiled"] == before["compiled"] and devices.stats["reused"] == before["reused"] + 1
    _run((0, 1), steps=30, eval_every=10, optimizer=optax.sgd(0.07))  # another constant: another program
    assert devices.stats["compiled"] == before["compiled"] + 1


def test_programs_that_compute_the_same_but_name_their_outputs_otherwise_are_not_confused():
    def evaluate_as(name):
        return lambda model, subset, key: {name: jnp.sum(jax.vmap(model)(jnp.ones((4, D))))}

    first = _run((0,), steps=10, eval_every=10, evaluate=evaluate_as("first"))
    second = _run((0,), steps=10, eval_every=10, evaluate=evaluate_as("second"))
    assert set(first.metrics) == {"first"} and set(second.metrics) == {"second"}
    assert np.array_equal(first.metrics["first"], second.metrics["second"])


@pytest.mark.parametrize("factory, exact", [(optax.sgd, True), (optax.adam, False)])
def test_a_learning_rate_held_in_the_state_shares_one_program(factory, exact):
    """Bit-identical to the plain optimizer for SGD; for Adam equal to float32 rounding (XLA folds a
    constant rate in another order), which is why the experiments use it for SGD only."""
    from deeplimits.engine import devices, runtime_learning_rate

    plain = _run((0, 1), steps=40, eval_every=20, optimizer=factory(0.03))
    held = _run((0, 1), steps=40, eval_every=20, optimizer=runtime_learning_rate(factory, 0.03))
    if exact:
        assert np.array_equal(plain.loss, held.loss) and _same(_leaves(plain, slice(None)), _leaves(held, slice(None)))
    np.testing.assert_allclose(plain.loss, held.loss, rtol=1e-5)
    before = devices.stats["compiled"]
    frozen = runtime_learning_rate(factory, 0.0)
    other = _run((0, 1), steps=40, eval_every=20, optimizer=frozen)
    assert devices.stats["compiled"] == before  # another rate, the same program
    shorter = _run((0, 1), steps=20, eval_every=20, optimizer=frozen)
    assert _same(_leaves(other, slice(None)), _leaves(shorter, slice(None)))  # at rate 0 nothing moved
    assert not _same(_leaves(other, slice(None)), _leaves(held, slice(None)))


@pytest.mark.slow
def test_results_do_not_depend_on_the_number_of_devices(tmp_path):
    """The same seeds with 2 and with 3 host devices (subprocesses: the count is fixed at start-up), on parity,
    where a one-device program rounded differently; asking for 1 device gives the minimum of 2."""
    script = ("import sys, numpy as np, jax, deeplimits; "
              "from deeplimits.builtin.gradient_failures import parity; "
              "from deeplimits.config import build_config; "
              "c = build_config(parity.Config, dict(steps=300, eval_every=100, learning_rate=0.1, dims=(3, 8))); "
              "r = parity.train_sgd(c, 8, (0, 1, 2), lambda *a: None); "
              "np.save(sys.argv[1], r.curves['loss']); print(len(jax.devices()))")
    losses = {}
    for count, expected in (("1", "2"), ("3", "3")):
        out = tmp_path / f"loss{count}.npy"
        done = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True,
                              env={**os.environ, "DEEPLIMITS_CPU_DEVICES": count}, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[-1] == expected
        losses[count] = np.load(out)
    assert np.array_equal(losses["1"], losses["3"])


def test_a_bad_device_count_is_one_clear_line():
    done = subprocess.run([sys.executable, "-c", "import deeplimits"], capture_output=True, text=True,
                          env={**os.environ, "DEEPLIMITS_CPU_DEVICES": "two"}, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["DEEPLIMITS_CPU_DEVICES='two': expected a whole number of "
                                                "devices >= 1"]


def test_random_signs_are_the_bits_of_the_random_words():
    key = jax.random.key(7)
    signs = np.asarray(random_signs(key, (5, 13)))  # 65 signs: three words, the last one partly used
    words = np.asarray(jax.random.bits(key, (3,), jnp.uint32))
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    assert signs.dtype == np.float32 and signs.shape == (5, 13)
    assert np.array_equal(signs.reshape(-1), 1.0 - 2.0 * bits.reshape(-1)[:65])


def test_random_signs_are_fair_and_independent():
    signs = np.asarray(random_signs(jax.random.key(0), (4096, 64)))
    assert set(np.unique(signs)) == {-1.0, 1.0}
    assert abs(signs.mean()) < 4 / np.sqrt(signs.size)  # 4 standard errors
    correlation = signs.T @ signs / signs.shape[0]  # (64, 64): identity up to noise
    assert np.abs(correlation - np.eye(64)).max() < 5 / np.sqrt(signs.shape[0])


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
    with pytest.raises(ValueError, match="seeds_by='rows': expected 'auto', 'vmap' or 'map'"):
        _run((0,), steps=1, eval_every=1, seeds_by="rows")


def test_the_authors_truncated_normal_keeps_each_experiments_former_draws_bit_for_bit():
    """Portfolio and flat-activations drew `truncated_normal(-2, 2) / sqrt(fan_in)` in place; the shared helper
    is that expression, so their weights (and stored runs) are unchanged."""
    from deeplimits.engine import authors_truncated_normal

    key = jax.random.key(11)
    for shape, fan_in in (((1000, 1000), 1000), ((50, 7), 7)):
        expected = jax.random.truncated_normal(key, -2.0, 2.0, shape) / np.sqrt(fan_in)
        assert np.array_equal(authors_truncated_normal(key, shape, fan_in=fan_in), expected)
    drawn = np.asarray(authors_truncated_normal(key, (20_000,), fan_in=4))
    assert np.abs(drawn).max() <= 2 / np.sqrt(4) and np.std(drawn) == pytest.approx(0.8796 / 2, rel=0.03)


def test_calls_side_by_side_on_the_devices_equal_one_after_another_on_one():
    from deeplimits.engine import side_by_side

    @eqx.filter_jit
    def measure(model, x):
        return jnp.sum(jax.vmap(model)(x) ** 2), jnp.max(jax.vmap(model)(x))

    x = jax.random.normal(jax.random.key(0), (64, D))
    models = [one_hidden_layer_relu(key=k, in_size=D, width=20) for k in derive_keys("test", "arm", tuple(range(5)))]
    alone = [jax.device_get(measure(m, x)) for m in models]
    together = side_by_side(measure, [(m, x) for m in models])
    assert len(together) == 5
    assert all(np.array_equal(a, b) for pair in zip(alone, together) for a, b in zip(*pair))
    assert not np.array_equal(together[0][0], together[1][0])  # in order, each its own model's
