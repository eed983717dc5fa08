import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deeplimits.builtin.gradient_failures.tuple_lines import (
    Config,
    TupleNet,
    antithetic_signal_and_noise,
    draw_lines,
    line_parameters,
    mirror_first_image,
    render_lines,
    sample_tuples,
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
    for image, drawn, a in zip(images[whole], length[whole], angle[whole]):
        rows, cols = np.nonzero(image)
        points = np.stack([cols, -rows], 1).astype(float)  # y up, so angles count counter-clockwise
        span = np.max(np.linalg.norm(points[:, None] - points[None], axis=-1))
        assert abs(span - drawn) <= 1.5  # rounding moves each end by at most half a pixel diagonal
        direction = np.linalg.svd(points - points.mean(0))[2][0]
        recovered = math.atan2(direction[1], direction[0]) % math.pi
        error = min(abs(recovered - a), math.pi - abs(recovered - a))
        assert error <= math.atan(1.5 / drawn) + 0.02


def test_tuple_label_is_the_parity_of_the_image_labels():
    config = Config(image_size=12, min_length=3.0, max_length=9.0)
    images, labels, label = sample_tuples(config, jax.random.key(2), 50, 3)
    assert images.shape == (50, 3, 12, 12) and labels.shape == (50, 3)
    assert np.array_equal(label, np.prod(labels, axis=1))
    net = TupleNet(key=jax.random.key(3), config=config, k=3)
    assert net(images[0]).shape == () and net.scores(images[0]).shape == (3,)


def test_antithetic_signal_and_noise_are_unbiased_and_the_sign_flip_null_is_zero():
    """Pairs whose label-driven parts cancel: g = mu + y a + e, g' = mu - y a + e' (y = +-1)."""
    rng = np.random.default_rng(0)
    mean, drive, scale, m = np.array([0.3, -0.1, 0.2]), np.array([2.0, -1.0, 3.0]), np.array([1.0, 2.0, 0.5]), 20
    signals, noises, nulls = [], [], []
    for _ in range(3000):
        y = rng.choice([-1.0, 1.0], size=(m, 1))
        g = mean + y * drive + scale * rng.normal(size=(m, 3))
        mirrored = mean - y * drive + scale * rng.normal(size=(m, 3))
        s, v = antithetic_signal_and_noise(jnp.asarray(g), jnp.asarray(mirrored))
        null, _ = antithetic_signal_and_noise(jnp.asarray(g), jnp.asarray(mirrored),
                                              jnp.asarray(rng.choice([-1.0, 1.0], size=m)))
        signals.append(float(s))
        noises.append(float(v))
        nulls.append(float(null))
    assert np.mean(noises) == pytest.approx(np.sum(drive**2 + scale**2), rel=0.02)
    assert np.mean(signals) == pytest.approx(np.sum(mean**2), abs=0.005)  # ||mean||^2 = 0.14
    assert np.mean(nulls) == pytest.approx(0.0, abs=0.005)
    # the pair mean cancels the drive: its spread is far below a single example's
    assert np.std(signals) < 0.05 * np.sum(drive**2)


def test_a_mirrored_line_is_the_line_at_the_supplementary_angle():
    """Reversing the columns maps angle a to pi - a and the centre column c to size - 1 - c: the
    same distribution, the opposite label (exactly, except for rounding ties)."""
    length, centre, angle = line_parameters(jax.random.key(7), 2000, size=SIZE, min_length=LOW, max_length=HIGH)
    images = render_lines(length, centre, angle, size=SIZE, max_length=HIGH)
    flipped_centre = centre.at[:, 0].set(SIZE - 1 - centre[:, 0])
    expected = render_lines(length, flipped_centre, math.pi - angle, size=SIZE, max_length=HIGH)
    same = np.all(np.asarray(images[:, :, ::-1]) == np.asarray(expected), axis=(1, 2))
    assert same.mean() >= 0.99
    tuples, labels = images.reshape(1000, 2, SIZE, SIZE), jnp.where(angle < math.pi / 2, 1.0, -1.0).reshape(1000, 2)
    mirrored, flipped, flipped_label = mirror_first_image(tuples, labels, jnp.prod(labels, axis=1))
    assert np.array_equal(mirrored[:, 0], tuples[:, 0, :, ::-1]) and np.array_equal(mirrored[:, 1], tuples[:, 1])
    assert np.array_equal(flipped[:, 0], -labels[:, 0]) and np.array_equal(flipped_label, -jnp.prod(labels, axis=1))


def test_the_authors_initialisation():
    """Truncated normal at 2 std with std 1/sqrt(input channels); zero biases; the first convolution's
    std is 1/sqrt(image size), as in the authors' code."""
    config = Config()
    net = TupleNet(key=jax.random.key(8), config=config, k=2)
    layers = [(net.scorer.convs[0], 28), (net.scorer.convs[1], 16), (net.scorer.dense[0], 16 * 49),
              (net.scorer.dense[1], 50), (net.scorer.out, 100), (net.hidden, 2), (net.out, 100)]
    for layer, fan in layers:
        w = np.asarray(layer.weight).ravel()
        assert np.all(np.asarray(layer.bias) == 0)
        assert np.max(np.abs(w)) <= 2 * fan**-0.5 + 1e-7
        if w.size >= 1000:  # a truncated normal's std is 0.88 of its parameter
            assert np.std(w) == pytest.approx(0.8796 * fan**-0.5, rel=0.05)


@pytest.mark.parametrize("decomposition", [False, True])
def test_fast_last_layer_gradients_equal_autodiff_of_the_whole_loss(decomposition):
    from deeplimits.builtin.gradient_failures.tuple_lines import example_loss, last_layer_gradients

    config = Config(image_size=12, min_length=3.0, max_length=9.0, conv_channels=3, dense_widths=(8,))
    net = TupleNet(key=jax.random.key(5), config=config, k=2)
    images, labels, label = sample_tuples(config, jax.random.key(6), 7, 2)

    def plain(i):
        grads = jax.grad(example_loss)(net, images[i], labels[i], label[i], decomposition)
        return jnp.concatenate([grads.scorer.out.weight.ravel(), grads.scorer.out.bias.ravel()])

    expected = jnp.stack([plain(i) for i in range(7)])
    features = jax.vmap(jax.vmap(net.scorer.features))(images)
    np.testing.assert_allclose(last_layer_gradients(net, features, labels, label, decomposition), expected,
                               rtol=1e-5, atol=1e-6)


def test_the_patch_convolutions_compute_the_authors_conv2d_network():
    """The scorer over patches equals the same weights in eqx.nn.Conv2d and MaxPool2d on (C, H, W) images,
    flattened channel by channel as the authors' network is (odd sizes after pooling included)."""
    import equinox as eqx

    from deeplimits.builtin.gradient_failures.tuple_lines import ImageScorer

    scorer = ImageScorer(key=jax.random.key(3), size=14, channels=4, widths=(8,))
    image = jax.random.uniform(jax.random.key(4), (14, 14))
    h = image[None]
    for conv in scorer.convs:
        channels = conv.weight.shape[1]
        reference = eqx.nn.Conv2d(conv.weight.shape[0] // 25, channels, 5, padding="SAME", key=jax.random.key(0))
        weight = conv.weight.reshape(5, 5, -1, channels).transpose(3, 2, 0, 1)  # back to (out, in, 5, 5)
        reference = eqx.tree_at(lambda m: (m.weight, m.bias), reference, (weight, conv.bias[:, None, None]))
        h = eqx.nn.MaxPool2d(2, 2)(reference(h))
    np.testing.assert_allclose(scorer.features(image), jax.nn.relu(scorer.dense[0](h.ravel())), rtol=1e-5, atol=1e-6)
