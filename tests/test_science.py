"""Quick-profile verdicts are what we measured (CI runs these; one to eight minutes each on 2 cores).

The settings where each claim must come out the other way are in test_falsifiability.py."""

import numpy as np
import pytest

import deeplimits


@pytest.mark.slow
def test_parity_quick_reproduces_the_paper():
    record = deeplimits.run("parity", profile="quick")
    sgd, variance = record.verdict("parity-sgd-fails"), record.verdict("parity-gradient-variance")
    assert sgd.status == "reproduced", sgd.detail
    assert 0.45 <= sgd.low and sgd.high <= 0.55
    assert variance.status == "reproduced", variance.detail
    control = record.results.arms["sgd-d5"].final["accuracy"]
    assert control.min() >= 0.95


@pytest.mark.slow
def test_linear_periodic_quick_reproduces_the_claims():
    record = deeplimits.run("linear-periodic", profile="quick")
    for verdict in record.verdicts:
        assert verdict.status == "reproduced", verdict.detail


@pytest.mark.slow
def test_portfolio_quick_reproduces_fig_4_in_the_authors_setting_and_the_ablations_close_the_gap():
    """With the authors' bias, init and Adam(0.1, 0.9, 0.99, 1e-5), end-to-end stalls at k = 1000; without the bias
    the gap closes (the result hinges on it). Under SGD, each at its best rate, end-to-end is slower."""
    record = deeplimits.run("portfolio", profile="quick")
    for claim in ("portfolio-end-to-end-slower", "portfolio-end-to-end-slower-sgd", "portfolio-variance-ratio"):
        assert record.verdict(claim).status == "reproduced", record.verdict(claim).detail
    arms = record.results.arms
    assert arms["end-to-end-k1000"].final["objective"].mean() > -0.6  # stalls
    gap = arms["end-to-end-k1000-no-bias"].final["objective"] - arms["decomposition-k1000-no-bias"].final["objective"]
    assert np.abs(gap).max() < 0.01


@pytest.mark.slow
def test_tuple_lines_quick_verdicts():
    """End-to-end stalls at k = 3 while decomposition and the k = 1 control learn. The SNR, measured on the
    paper's network with the antithetic estimator, is resolved at k = 1 and falls with k; whether it is below
    float32 resolution at k = 3 is beyond this profile's resolution, so that verdict must say inconclusive."""
    record = deeplimits.run("tuple-lines", profile="quick")
    for claim in ("tuple-lines-end-to-end-stalls", "tuple-lines-snr"):
        assert record.verdict(claim).status == "reproduced", record.verdict(claim).detail
    below = record.verdict("tuple-lines-snr-float32")
    assert below.status == "inconclusive" and "straddles" in below.detail, below.detail


@pytest.mark.slow
def test_pwl_curves_quick_reproduces_the_paper():
    record = deeplimits.run("pwl-curves", profile="quick")
    for verdict in record.verdicts:
        assert verdict.status == "reproduced", verdict.detail
    # the measured SGD error follows the exact full-batch prediction of the spectrum
    arm, predicted = record.results.arms["fully-connected"], record.results.diagnostics
    np.testing.assert_allclose(arm.curves["error"].mean(axis=0), predicted["predicted_error_fully-connected"],
                               rtol=0.05)


@pytest.mark.slow
def test_flat_activations_quick_verdicts_in_the_authors_setting():
    """In the authors' setting the approximation learns from starts inside the data and fails from 4 sd out and
    beyond; forward-only is as accurate as the best other arm but not measurably better; the networks draw the
    few steps the data meet without blurring them by our measure (see the module docstring)."""
    record = deeplimits.run("flat-activations", profile="quick")
    bias = record.verdict("flat-approximation-bias-sensitive")
    assert bias.status == "reproduced", bias.detail
    best = record.verdict("flat-forward-only-best")
    assert best.status == "inconclusive" and "straddles" in best.detail, best.detail
    blur = record.verdict("flat-boundaries-blurred")
    assert blur.status == "not_reproduced", blur.detail


@pytest.mark.slow
def test_color_inversion_quick_reproduces_the_claim():
    record = deeplimits.run("color-inversion", profile="quick")
    verdict = record.verdict("color-inversion-breaks")
    assert verdict.status == "reproduced", verdict.detail
    arms = record.results.arms
    assert arms["cnn-mixed"].final["inverted"].min() >= 0.9  # the remedy reads inverted digits
    # below chance, not at it: the information is kept and used backwards (the true class ranked near last)
    assert arms["cnn"].final["rank/inverted"].mean() > 6 and arms["cnn"].final["argmin/inverted"].mean() > 0.2
    assert arms["cnn"].final["rank/original"].mean() < 0.5


@pytest.mark.slow
def test_overconfidence_quick_verdicts():
    """Out of distribution the CNN is confident where it is wrong and an ensemble tells those inputs apart better; in
    distribution our 8x8 CNN is close to calibrated: over all 1,797 digits (5 folds) its confidence exceeds its
    accuracy by less than a point, which the rule cannot tell from 0, although it finds an injected 3 points."""
    record = deeplimits.run("overconfidence", profile="quick")
    assert record.results.diagnostics["confidence/cnn"].shape == (4, 1797)  # every digit predicted once
    ood = record.verdict("overconfidence-out-of-distribution")
    assert ood.status == "reproduced", ood.detail
    calibration = record.verdict("overconfidence-miscalibrated")
    assert calibration.status == "inconclusive" and "straddles" in calibration.detail, calibration.detail
    from deeplimits.builtin.robustness.overconfidence import POWER_SHIFT, pooled_mean

    diagnostics = record.results.diagnostics  # the power check finds an injected overconfidence of 3 points
    power = pooled_mean(diagnostics["confidence/cnn"] - diagnostics["correct/shifted-labels"])
    assert power.low > 0 and power.estimate == pytest.approx(POWER_SHIFT, abs=0.005)
    null = pooled_mean(diagnostics["confidence/cnn"] - diagnostics["correct/calibrated-labels"])
    assert null.low < 0 < null.high
    arms = record.results.arms  # the ensemble tells noise from digits better than one network
    assert arms["ensemble"].final["auroc/noise"].mean() > arms["cnn"].final["auroc/noise"].mean()


@pytest.mark.slow
def test_adversarial_quick_verdicts():
    """On 8x8 digits eps 0.1 (1.6 grey levels) fools about half of the CNN's correct predictions under the strongest
    attack and almost none to a chosen target (our measurement disagrees with the claim at that size; see the
    report); the linear models are fooled at sizes within a factor 2 of the deep ones; PGD training buys robustness
    at no measurable clean cost."""
    from deeplimits.builtin.robustness.adversarial import grid

    record = deeplimits.run("adversarial", profile="quick")
    imperceptible = record.verdict("adversarial-imperceptible")
    assert imperceptible.status == "not_reproduced" and "targeted" in imperceptible.detail, imperceptible.detail
    assert record.verdict("adversarial-not-only-deep").status == "reproduced"
    assert record.verdict("adversarial-training-cost").status == "reproduced"
    arms = record.results.arms
    at = grid(record.results.config).index(0.25)
    assert arms["cnn"].curves["success/fgsm"][:, at].min() > 0.9
    assert arms["cnn"].final["success/noise"].max() < 0.1
    strongest, fgsm = (arms["cnn"].curves[f"success/{a}"] for a in ("strongest", "fgsm"))
    assert np.all(strongest >= fgsm)  # the union fools every image FGSM fools


@pytest.mark.slow
def test_extrapolation_quick_reproduces_both_claims():
    record = deeplimits.run("extrapolation", profile="quick")
    for verdict in record.verdicts:
        assert verdict.status == "reproduced", verdict.detail


@pytest.mark.slow
def test_sorting_quick_verdict():
    """With a length-agnostic output (normalised ranks) the Transformer keeps the order of longer sequences and of
    values in [1, 2] (Kendall tau near 1) while its exact accuracy there is near 0, and the MLP keeps the order of
    shifted values: the failure the claim states (neither exact nor close in order) is not what we see."""
    record = deeplimits.run("sorting", profile="quick")
    verdict = record.verdict("sorting-no-generalization")
    assert verdict.status == "not_reproduced", verdict.detail
    arms = record.results.arms
    transformer = arms["transformer"].final
    assert transformer["kendall_tau/length-15"].min() > 0.9 and transformer["exact/length-15"].max() < 0.1
    assert arms["mlp"].final["kendall_tau/length-15"].mean() < 0.3  # the MLP's untrained slots carry no order
    comparator = arms["comparator"].final
    assert comparator["exact/length-15"].min() > 0.9 and comparator["exact/shift-1"].min() > 0.9
