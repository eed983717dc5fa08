"""Quick-profile verdicts must match the sources (CI runs these; about a minute each).

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
def test_portfolio_quick_verdicts_are_what_we_measured():
    """The variance ratio is k, as the paper says. The training claim does NOT reproduce here:
    with Adam (lr 0.1) end-to-end reaches the optimum too, only ~1.4x later (see the note
    in the module docstring). The controls must work, so this is a measured disagreement."""
    record = deeplimits.run("portfolio", profile="quick")
    assert record.verdict("portfolio-variance-ratio").status == "reproduced"
    training = record.verdict("portfolio-end-to-end-slower")
    assert training.status == "not_reproduced", training.detail
    assert "control did not succeed" not in training.detail


@pytest.mark.slow
def test_tuple_lines_quick_verdicts():
    """End-to-end stalls at k = 3 while decomposition and the k = 1 control learn. The SNR at
    initialisation is below this profile's resolution for both estimators, so its verdict must
    say inconclusive (and why) rather than pretend."""
    record = deeplimits.run("tuple-lines", profile="quick")
    training = record.verdict("tuple-lines-end-to-end-stalls")
    assert training.status == "reproduced", training.detail
    snr = record.verdict("tuple-lines-snr")
    assert snr.status == "inconclusive" and "resolution" in snr.detail, snr.detail


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
def test_flat_activations_quick_reproduces_the_paper():
    record = deeplimits.run("flat-activations", profile="quick")
    for verdict in record.verdicts:
        assert verdict.status == "reproduced", verdict.detail
