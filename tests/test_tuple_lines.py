import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.experiments.gradient_failures.tuple_lines import (
    Config,
    TupleNet,
    draw_lines,
    line_parameters,
    render_lines,
    sample_tuples,
    signal_and_noise,
)

SIZE, LOW, HIGH = 28, 5.0, 23.0


def test_labels_are_balanced_and_images_binary():
    images, labels = draw_lines(jax.random.key(0), 4000, size=SIZE, min_length=LOW, max_length=HIGH)
    assert images.shape == (4000, SIZE, SIZE) and set(np.unique(images)) <= {0.0, 1.0}
    assert abs(float(jnp.mean(labels == 1.0)) - 0.5) < 0.03
    assert float(jnp.min(jnp.sum(images, axis=(1, 2)))) >= 1  # the centre is always inside


def test_length_and_angle_are_recovered_from_the_pixels():
    length, centre, angle = line_parameters(jax.random.key(1), 3000, size=SIZE, min_length=LOW, max_length=HIGH)
    images = np.asarray(render_lines(length, centre, angle, size=SIZE, max_length=HIGH))
    length, centre, angle = map(np.asarray, (length, centre, angle))
    half = length / 2
    ends = [centre + s * half[:, None] * np.stack([np.cos(angle), -np.sin(angle)], 1) for s in (-1, 1)]
    whole = np.all([(e >= 0.5) & (e <= SIZE - 1.5) for e in ends], axis=(0, 2)) & (length >= 10)
    assert whole.sum() > 300
    for image, l, a in zip(images[whole], length[whole], angle[whole]):
        rows, cols = np.nonzero(image)
        points = np.stack([cols, -rows], 1).astype(float)  # y up, so angles count counter-clockwise
        span = np.max(np.linalg.norm(points[:, None] - points[None], axis=-1))
        assert abs(span - l) <= 1.5  # rounding moves each end by at most half a pixel diagonal
        direction = np.linalg.svd(points - points.mean(0))[2][0]
        recovered = math.atan2(direction[1], direction[0]) % math.pi
        error = min(abs(recovered - a), math.pi - abs(recovered - a))
        assert error <= math.atan(1.5 / l) + 0.02


def test_tuple_label_is_the_parity_of_the_image_labels():
    config = Config(image_size=12, min_length=3.0, max_length=9.0)
    images, labels, label = sample_tuples(config, jax.random.key(2), 50, 3)
    assert images.shape == (50, 3, 12, 12) and labels.shape == (50, 3)
    assert np.array_equal(label, np.prod(labels, axis=1))
    net = TupleNet(key=jax.random.key(3), config=config, k=3)
    assert net(images[0]).shape == () and net.scores(images[0]).shape == (3,)


def test_signal_and_noise_are_unbiased():
    rng = np.random.default_rng(0)
    mean, scale, n = np.array([0.3, -0.1, 0.2]), np.array([1.0, 2.0, 0.5]), 20
    signals, noises = [], []
    for _ in range(3000):
        grads = mean + scale * rng.normal(size=(n, 3))
        s, v = signal_and_noise(jnp.asarray(grads))
        signals.append(float(s))
        noises.append(float(v))
    assert np.mean(noises) == pytest.approx(np.sum(scale**2), rel=0.02)
    assert np.mean(signals) == pytest.approx(np.sum(mean**2), abs=0.01)  # ||mean||^2 = 0.14


@pytest.mark.parametrize("decomposition", [False, True])
def test_fast_last_layer_gradients_equal_autodiff_of_the_whole_loss(decomposition):
    from deeplimits.experiments.gradient_failures.tuple_lines import example_loss, last_layer_gradients

    config = Config(image_size=12, min_length=3.0, max_length=9.0, conv_channels=3, dense_widths=(8,))
    net = TupleNet(key=jax.random.key(5), config=config, k=2)
    images, labels, label = sample_tuples(config, jax.random.key(6), 7, 2)

    def plain(i):
        grads = jax.grad(example_loss)(net, images[i], labels[i], label[i], decomposition)
        return jnp.concatenate([grads.scorer.out.weight.ravel(), grads.scorer.out.bias.ravel()])

    expected = jnp.stack([plain(i) for i in range(7)])
    np.testing.assert_allclose(last_layer_gradients(net, images, labels, label, decomposition), expected,
                               rtol=1e-5, atol=1e-6)
