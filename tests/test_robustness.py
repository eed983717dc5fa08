"""The pieces behind `adversarial`, `color-inversion` and `overconfidence`: digits, the 8x8 networks,
the attacks and the calibration measures, against exact answers and plain reference paths."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits import registry
from deeplimits.config import to_dict
from deeplimits.data import GREY_LEVEL, load_digits
from deeplimits.diagnostics import (
    brier_score,
    excess_ece_interval,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    softmax,
)
from deeplimits.engine.attacks import fgsm, linear_worst_case, pgd, random_signs_noise, strongest_predictions
from deeplimits.engine.classify import DigitsCNN, digits_mlp
from deeplimits.engine.conv import PatchConv, from_conv2d, max_pool_2x2
from deeplimits.experiment import Results


def test_digits_are_split_once_stratified_and_scaled():
    digits = load_digits()
    assert (len(digits.x_train), len(digits.x_val), len(digits.x_test)) == (1077, 360, 360)
    for x in (digits.x_train, digits.x_val, digits.x_test):
        assert x.shape[1:] == (8, 8) and x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
        assert not x.flags.writeable
        assert set(np.unique(x * 16)) <= set(range(17))  # 17 grey levels, one level = GREY_LEVEL
    assert GREY_LEVEL == 1 / 16
    counts = np.bincount(digits.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 of each class
    from sklearn.datasets import load_digits as sklearn_digits

    assert len(digits.x_train) + len(digits.x_val) + len(digits.x_test) == len(sklearn_digits().images)


@pytest.mark.parametrize("size, shape", [(3, (8, 8, 4)), (5, (14, 14, 3)), (5, (7, 7, 2))])
def test_patch_convolution_and_pooling_equal_equinox(size, shape):
    """The fast path (k x k patches times one matrix) computes what eqx.nn.Conv2d and MaxPool2d compute,
    odd image sizes included (pooling drops the last row and column, as MaxPool2d does)."""
    channels = shape[-1]
    reference = eqx.nn.Conv2d(channels, 5, size, padding="SAME", key=jax.random.key(0))
    fast = from_conv2d(reference.weight, reference.bias)
    h = jax.random.normal(jax.random.key(1), shape)
    expected = reference(jnp.transpose(h, (2, 0, 1)))  # (C, H, W)
    np.testing.assert_allclose(fast(h), jnp.transpose(expected, (1, 2, 0)), rtol=1e-5, atol=1e-5)
    pooled = eqx.nn.MaxPool2d(2, 2)(expected)
    np.testing.assert_array_equal(max_pool_2x2(jnp.transpose(expected, (1, 2, 0))), jnp.transpose(pooled, (1, 2, 0)))
    with pytest.raises(ValueError, match="odd kernel size"):
        PatchConv(2, 2, 4, key=jax.random.key(0))


def test_networks_map_an_image_to_ten_logits():
    image = jnp.asarray(load_digits().x_test[0])
    assert DigitsCNN(key=jax.random.key(0))(image).shape == (10,)
    assert digits_mlp(jax.random.key(0))(image).shape == (10,)


def test_attacks_stay_in_the_ball_and_the_pixel_range():
    digits = load_digits()
    net = DigitsCNN(key=jax.random.key(0))
    x, y = jnp.asarray(digits.x_test[:16]), jnp.asarray(digits.y_test[:16])
    eps = 0.1
    for adv in (pgd(net, x, y, eps, key=jax.random.key(1), steps=5, step_size=0.05), fgsm(net, x, y, eps),
                pgd(net, x, jnp.zeros_like(y), eps, key=jax.random.key(2), steps=5, step_size=0.05, targeted=True),
                random_signs_noise(x, eps, key=jax.random.key(3))):
        assert float(jnp.max(jnp.abs(adv - x))) <= eps + 1e-6
        assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0


def test_pgd_raises_the_loss_more_than_random_signs():
    import optax

    digits = load_digits()
    net = DigitsCNN(key=jax.random.key(0))
    x, y = jnp.asarray(digits.x_test[:64]), jnp.asarray(digits.y_test[:64])

    def loss(images):
        return float(jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jax.vmap(net)(images), y)))

    attacked = pgd(net, x, y, 0.1, key=jax.random.key(1), steps=10, step_size=0.01)
    assert loss(attacked) > loss(random_signs_noise(x, 0.1, key=jax.random.key(2))) > 0.9 * loss(x)


def test_the_strongest_attack_fools_every_image_fgsm_fools_and_more_starts_fool_no_fewer():
    from deeplimits.builtin.robustness.adversarial import rates

    digits = load_digits()
    net = DigitsCNN(key=jax.random.key(0))
    x, y = jnp.asarray(digits.x_test[:64]), jnp.asarray(digits.y_test[:64])
    eps = jnp.float32(0.1)
    walks = strongest_predictions(net, x, y, eps, key=jax.random.key(1), steps=5, restarts=3, step_scale=2.5)
    assert walks.shape == (4, 64)  # FGSM, then one row per start
    np.testing.assert_array_equal(walks[0], jnp.argmax(jax.vmap(net)(fgsm(net, x, y, eps)), axis=-1))
    first = pgd(net, x, y, eps, key=jax.random.split(jax.random.key(1), 3)[0], steps=5, step_size=2.5 * 0.1 / 5)
    np.testing.assert_array_equal(walks[1], jnp.argmax(jax.vmap(net)(first), axis=-1))
    clean, walks, y = np.asarray(jnp.argmax(jax.vmap(net)(x), axis=-1)), np.asarray(walks)[None], np.asarray(y)
    noise = clean[None]
    measured = rates(clean, walks, walks, noise, y, target=0)
    right = clean == y
    fgsm_fooled = (walks[0, 0] != y) & right
    assert right.any() and np.all(measured["fooled"][0] >= fgsm_fooled)
    one_start = rates(clean, walks[:, :2], walks[:, :2], noise, y, target=0)
    assert np.all(measured["fooled"] >= one_start["fooled"])
    assert measured["success/strongest"][0] == measured["fooled"][0][right].mean()
    assert measured["robust_accuracy"][0] == np.mean((walks[0] == y).all(axis=0))


def test_eps50_interpolates_the_pooled_success_curve_and_flags_a_curve_that_never_reaches_half():
    from deeplimits.builtin.robustness.adversarial import censored, pooled_half_size

    eps = np.array([0.1, 0.2, 0.3])
    right = np.ones((2, 4), bool)  # two seeds, four images
    fooled = np.zeros((2, 3, 4), bool)
    fooled[0, 0, 0] = fooled[1, 0, 1] = True  # 2 of 8 at 0.1: 0.25
    fooled[:, 1:, :3] = True  # 6 of 8 at 0.2 and 0.3: 0.75
    assert pooled_half_size(eps, right, fooled) == pytest.approx(0.15)
    assert not censored(eps, right, fooled)
    assert pooled_half_size(eps, right, fooled, images=np.array([3, 3])) == 0.3
    assert censored(eps, right[:, [3]], fooled[:, :, [3]]) == "above"  # never fooled: eps50 is at least 0.3
    assert pooled_half_size(eps, right, fooled, seeds=np.array([0, 0]), images=np.array([0, 0])) == 0.1
    assert censored(eps, right[:, [0]], fooled[:1, :, [0]]) == "below"  # fooled from the smallest eps: at most 0.1
    assert np.isnan(pooled_half_size(eps, np.zeros_like(right), fooled))  # nothing classified right


def _results_with_half_sizes(**first_fooled_at):
    """Results whose arms' images are fooled from the eps index given per image (len(eps): never)."""
    from types import SimpleNamespace

    eps = (0.05, 0.1, 0.15, 0.2)
    diagnostics = {}
    for arm, first in first_fooled_at.items():
        first = np.asarray(first)  # (N,)
        fooled = np.arange(len(eps))[:, None] >= first[None, :]  # (E, N)
        diagnostics[f"fooled/{arm}"] = np.broadcast_to(fooled, (3, *fooled.shape)).copy()
        diagnostics[f"right/{arm}"] = np.ones((3, len(first)), bool)
    return SimpleNamespace(config={"epsilons": eps, "attack_epsilon": 0.1}, diagnostics=diagnostics)


@pytest.mark.parametrize(("linear", "deep", "status"), [
    ([1] * 20, [1] * 20, "pass"),  # the same eps50 (0.1): a ratio of 1
    ([4] * 20, [0] * 20, "fail"),  # the linear model never reaches 50% (>= 0.2) and the deep one at once: above 2
    ([0] * 20, [4] * 20, "fail"),  # the reverse: at most 0.05 over at least 0.2, below 0.5
    ([4] * 20, [4] * 20, "unsure"),  # both censored: the ratio is not bounded on either side
    ([2] * 20, [0] * 20, "fail"),  # 0.15 over at most 0.05: at least 3, above the band whatever the bound hides
    ([1] * 20, [0] * 20, "unsure"),  # 0.1 over at most 0.05: at least 2, so inside the band is not shown
])
def test_a_censored_eps50_bounds_the_ratio_on_one_side_only(linear, deep, status):
    from deeplimits.builtin.robustness.adversarial import ratio_check

    assert ratio_check(_results_with_half_sizes(lin=linear, net=deep), "lin", "net").outcome == status


def test_the_linear_worst_case_is_the_best_corner_of_the_box():
    """Brute force over every corner of (eps-ball within [0, 1]) equals the closed form."""
    import itertools

    rng = np.random.default_rng(0)
    weights, bias = rng.normal(size=(3, 4)), rng.normal(size=3)
    x = rng.uniform(size=(50, 4))
    labels = np.argmax(x @ weights.T + bias, axis=1)
    for eps in (0.05, 0.2, 0.6):
        low, high = np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1)
        flipped = np.zeros(len(x), bool)
        for corner in itertools.product((0, 1), repeat=4):
            pick = np.where(np.array(corner, bool), high, low)
            flipped |= np.argmax(pick @ weights.T + bias, axis=1) != labels
        np.testing.assert_array_equal(linear_worst_case(weights, bias, x, labels, eps), flipped)


def test_ece_brier_and_nll_on_cases_worked_by_hand():
    # bins of width 1/15: 0.95 falls in the last, 0.55 in (8/15, 9/15]; |1 - 1.9| / 4 + |2 - 1.1| / 4
    assert expected_calibration_error(np.array([0.95, 0.95, 0.55, 0.55]), np.array([1, 0, 1, 1])) == pytest.approx(0.45)
    assert expected_calibration_error(np.array([0.7, 0.7]), np.array([1, 0]), bins=1) == pytest.approx(0.2)
    assert brier_score(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([0, 0])) == pytest.approx(0.25)
    assert negative_log_likelihood(np.log(np.array([[0.25, 0.75]])), np.array([1])) == pytest.approx(-np.log(0.75))
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])


def test_temperature_scaling_recovers_the_temperature_that_made_the_logits():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4_000, 10)) * 2
    labels = np.array([rng.choice(10, p=p) for p in softmax(true_logits)])
    assert fit_temperature(3.0 * true_logits, labels) == pytest.approx(3.0, rel=0.1)


def test_excess_ece_covers_zero_for_a_calibrated_classifier_and_not_for_an_overconfident_one():
    """The raw ECE of 360 calibrated predictions is well above 0 (its bias); the excess over the calibrated
    reference is not, and an accuracy 5 points below the confidence is found."""
    rng = np.random.default_rng(1)
    confidence = np.clip(1 - rng.exponential(0.05, (5, 360)), 0.1, 1.0)
    calibrated = rng.random((5, 360)) < confidence
    excess, raw = excess_ece_interval(confidence, calibrated)
    assert excess.low <= 0.0 <= excess.high and raw.low > 0.005
    overconfident = rng.random((5, 360)) < confidence - 0.05
    excess, _ = excess_ece_interval(confidence, overconfident)
    assert excess.low > 0.0


def test_the_debiased_squared_ece_worked_by_hand_and_unbiased_where_the_plug_in_is_not():
    from deeplimits.diagnostics import debiased_squared_ece

    # one bin (15 bins: confidences in (14/15, 1]); accuracy 3/4, confidence 0.95: (0.75 - 0.95)^2 - 0.75 * 0.25 / 3
    confidence, correct = np.full(4, 0.95), np.array([1.0, 1.0, 1.0, 0.0])
    assert debiased_squared_ece(confidence, correct) == pytest.approx(0.04 - 0.0625)
    rng = np.random.default_rng(0)
    for shift in (0.0, 0.03):
        estimates, plug_in = [], []
        for _ in range(300):
            c = np.clip(1 - rng.exponential(0.05, 360), 0.1, 1.0)
            k = rng.random(360) < np.clip(c - shift, 0.0, 1.0)
            estimates.append(debiased_squared_ece(c, k))
            plug_in.append(expected_calibration_error(c, k) ** 2)
        assert np.mean(estimates) == pytest.approx(shift**2, abs=2e-4)  # unbiased: 0 and 9e-4
        assert np.mean(plug_in) > shift**2 + 2e-4  # the plug-in square is not


def test_the_folds_predict_every_digit_once_from_a_network_that_never_saw_it():
    from deeplimits.builtin.robustness.overconfidence import fold_splits

    splits = fold_splits(5)
    digits = load_digits()
    everything = np.concatenate([digits.x_train, digits.x_val, digits.x_test]).reshape(1797, -1)
    tested = np.concatenate([s["test"][0] for s in splits]).reshape(-1, 64)
    assert len(tested) == 1797 and len(np.unique(tested, axis=0)) == len(np.unique(everything, axis=0))
    for split in splits:
        assert len(split["train"][0]) == len(digits.x_train)  # one compiled program for every fold
        train = {row.tobytes() for row in split["train"][0].reshape(-1, 64)}
        assert not train & {row.tobytes() for row in split["val"][0].reshape(-1, 64)
                            if (everything == row).all(axis=1).sum() == 1}  # the temperature's digits are unseen
        seen = train | {row.tobytes() for row in split["val"][0].reshape(-1, 64)}
        assert not any(row.tobytes() in seen for row in split["test"][0].reshape(-1, 64)
                       if (everything == row).all(axis=1).sum() == 1)  # duplicated digits aside
    np.testing.assert_array_equal(splits[0]["train"][0], digits.x_train)  # fold 0 is the fixed split


def test_the_true_class_rank_counts_ties_against_it_and_the_argmin_reads_the_least_likely_class():
    from deeplimits.builtin.robustness.color_inversion import true_class_rank

    logits = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    rank, argmin = true_class_rank(logits, np.array([0, 0, 0]))
    assert rank == pytest.approx((0 + 1 + 2) / 3)  # first; tied for first (counts as second); last
    assert argmin == pytest.approx(1 / 3)  # only the third image's least likely class is the true one


def test_an_inversion_invariant_network_reads_an_image_and_its_negative_alike():
    from deeplimits.builtin.robustness.color_inversion import InversionInvariant, invert
    from deeplimits.engine.classify import digits_cnn

    net = InversionInvariant(digits_cnn(jax.random.key(0)))
    image = jax.random.uniform(jax.random.key(1), (8, 8))
    np.testing.assert_allclose(net(image), net(invert(image, 1.0)), atol=1e-5)
    assert not np.allclose(net.net(image), net.net(invert(image, 1.0)), atol=1e-3)  # the bare net does not


def test_without_adversarial_training_there_is_no_remedy_arm_and_its_claim_is_not_judged():
    """train_epsilon 0 (the falsifying setting of the attack claims, which do not read the remedy) trains no
    remedy; the training claim then says it was not judged instead of reading an arm that is not there."""
    exp = registry.get("adversarial")
    with_remedy, without = exp.config_for("smoke"), exp.config_for("smoke", train_epsilon=0.0)
    names = [a.name for a in exp.arms(with_remedy)]
    assert "cnn-adversarial" in names
    assert [a.name for a in exp.arms(without)] == [n for n in names if n != "cnn-adversarial"]
    results = Results(experiment="adversarial", version=exp.version, config=to_dict(without), seeds=(0, 1),
                      arms={}, diagnostics={}, wall_s=0.0)
    verdict = exp._verdict_training(results)
    assert verdict.claim_id == "adversarial-training-cost" and verdict.status == "inconclusive"
    assert "train_epsilon is 0" in verdict.detail
