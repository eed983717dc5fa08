"""B2 `sorting`: "even learning a sorting algorithm is tremendously difficult".

Claim (Chollet 2017). Networks trained to sort sequences of length L with values in
[0, 1] reach high exact-sequence accuracy on such sequences and fail on longer
sequences and on values outside [0, 1]: they fit the training distribution, not the
algorithm. Vinyals, Bengio & Kudlur 2016 ("Order Matters", Table 1) report exact
accuracy of about 94% at N = 5, 57% at N = 10 and 10% at N = 15 for their best
model trained and tested at each N.

Task. Each network reads a sequence and outputs, for every element, a score: its
normalised rank, rank / (L - 1), which means the same at any length L (a
length-agnostic output; an earlier version classified absolute rank indices, so a
network trained at L = 5 could not name rank 9 at all). An element's predicted rank
is its score times L - 1, rounded; the output sequence puts each element at its
predicted rank and is exactly right when every rank is. Metrics: exact-sequence
accuracy, per-position accuracy (share of output positions holding the right value),
Kendall's tau-a between the scores and the true ranks (order learned, whether or not
exact). Training sequences have lengths drawn uniformly from 2 to ``train_length``
(padded and masked) and values uniform in [0, ``train_high``]. Test sets:
``test_sequences`` sequences of length L like the training ones (values in [0,
``train_high``]: the control) and of each length in ``test_lengths`` (values in [0, 1]),
and of the training length with values in [s, s + 1] for each shift s in ``shifts``
(the ablation); the verdict judges the shift ``judged_shift``, fixed beforehand.

Arms. `mlp` (failing): a ReLU MLP on the values padded to the longest length
(with a mask), a score for each slot; its slots beyond L never train, so on longer
sequences it fails by construction and is judged only on shifted values.
`transformer` (failing): a small Transformer encoder without positional encodings
(sorting does not depend on input order), masked attention, a score for each
element: it reads any length and is judged on both. `comparator` (remedy): a shared
learned comparator g(a, b) = f(a, b) - f(b, a) of two values; an element's rank is
the number of elements it beats, so the same network applies to any length.
`np.sort`: the algorithm, which checks the test sets and the scorer (reported; it
cannot fail, so it is no control). The controls are the networks' own exact accuracy
on sequences like the training ones. The networks' model factories and the optimizer
are parameters of ``train_ranker``.

Vinyals et al.'s numbers are in distribution (trained and tested at each N), not
generalisation to longer inputs: they anchor the control, not the failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.engine import derive_keys, numpy_rng, seed_models, train
from deeplimits.experiment import (
    Arm,
    ArmResults,
    Claim,
    Experiment,
    Falsification,
    Progress,
    Results,
    Verdict,
    no_progress,
)
from deeplimits.registry import register
from deeplimits.report.style import PALETTE, new_figure
from deeplimits.stats import at_least, at_most, decide, describe, mean_interval, note

NAME = "sorting"
LEARNED = 0.5  # "high" exact accuracy in distribution (Vinyals et al.: 94% at N = 5, 57% at N = 10)
FAILS = 0.1  # "fail": exact accuracy at most 10% on longer sequences and on shifted values ...
TAU_FAILS = 0.5  # ... and an order no better than half-way from chance (tau 0) to the true order (tau 1)
ACCURACY = (0.0, 1.0)
NETS = ("mlp", "transformer")

CLAIM = Claim(
    id="sorting-no-generalization",
    statement="An MLP and a small Transformer trained to sort sequences of lengths up to L with values in [0, 1] "
              "sort such sequences well; the Transformer, which reads any length, fails on longer sequences, and "
              "both fail on values outside [0, 1]: neither exact nor close in order (Kendall tau at most 0.5). The "
              "MLP reads a fixed number of slots and those beyond L never train, so its failure on longer sequences "
              "is certain by construction: reported, not judged.",
    source="Chollet 2017; Vinyals et al. 2016, Table 1",
    expected="Vinyals et al. 2016 Table 1 (trained and tested at each N, in distribution: not generalisation to "
             "longer inputs): exact accuracy about 94% at N = 5, 57% at N = 10, 10% at N = 15. Chollet: no numbers.",
    budget=("steps",),
    falsified_by=Falsification(why="trained on values in [0, 2] and tested at length 4 (among the lengths 2 to 5 "
                                   "trained on) and on values in [1, 2] (shift 1, inside the training range): both "
                                   "test sets lie inside the training distribution but are not the control's (length "
                                   "5, values in [0, 2]), so the networks must not fail there",
                               profile="quick", seeds=4,
                               overrides={"train_high": 2.0, "test_lengths": (4,), "shifts": (1.0,),
                                          "judged_shift": 1.0}),)


@dataclass(frozen=True)
class Config:
    train_length: int = param(5, "length L of the training sequences", min=2, max=64)
    test_lengths: tuple[int, ...] = param((10, 15), "lengths of the test sequences (values in [0, 1])", min=2,
                                          max=64, distinct=True)
    train_high: float = param(1.0, "training values are uniform in [0, train_high]", min=1e-3, max=100.0)
    shifts: tuple[float, ...] = param((0.25, 0.5, 1.0, 2.0, 4.0, 8.0), "shifts s of the ablation: test values in "
                                      "[s, s + 1] at length L", min=-100.0, max=100.0, distinct=True)
    judged_shift: float = param(1.0, "the shift the verdict judges (one of shifts)", min=-100.0, max=100.0)
    test_sequences: int = param(1_000, "sequences per test set", min=10, max=1_000_000)
    width: int = param(256, "hidden units per layer of the MLP", min=1, max=8_192)
    model_size: int = param(64, "Transformer width", min=8, max=1_024)
    layers: int = param(2, "Transformer layers", min=1, max=12)
    learning_rate: float = param(1e-3, "Adam learning rate", min=0.0, max=1.0)
    steps: int = param(10_000, "Adam steps per network", min=1, max=10_000_000)
    batch_size: int = param(128, "sequences per step", min=1, max=65_536)

    def __post_init__(self) -> None:
        if self.judged_shift not in self.shifts:
            raise ConfigError(f"judged_shift={self.judged_shift:g} is not one of shifts="
                              f"{','.join(f'{s:g}' for s in self.shifts)}")

    @property
    def longest(self) -> int:
        return max(self.train_length, *self.test_lengths)


def true_ranks(values: jax.Array | np.ndarray):
    """Rank of each element in its sequence: ``(..., L) -> (..., L)`` int."""
    xp = jnp if isinstance(values, jax.Array) else np
    return xp.argsort(xp.argsort(values, axis=-1), axis=-1)


def normalised_ranks(values: jax.Array, mask: jax.Array) -> jax.Array:
    """rank / (length - 1) among the unmasked elements ``(..., L), (..., L) bool -> (..., L)`` (0 where masked)."""
    ranks = true_ranks(jnp.where(mask, values, jnp.inf))  # masked slots rank last
    length = jnp.sum(mask, axis=-1, keepdims=True)
    return jnp.where(mask, ranks / jnp.maximum(length - 1, 1), 0.0)


class MLPRanker(eqx.Module):
    """A ReLU MLP on the values padded to ``longest`` slots plus a mask; a score for each slot."""

    mlp: eqx.nn.MLP
    longest: int = eqx.field(static=True)

    def __init__(self, *, key: jax.Array, longest: int, width: int):
        self.longest = longest
        self.mlp = eqx.nn.MLP(2 * longest, longest, width, depth=2, activation=jax.nn.relu, key=key)

    def __call__(self, values: jax.Array, mask: jax.Array) -> jax.Array:  # (L,), (L,) -> (L,)
        length = values.shape[0]
        padded = jnp.zeros(self.longest).at[:length].set(jnp.where(mask, values, 0.0))
        slots = jnp.zeros(self.longest).at[:length].set(mask.astype(values.dtype))
        return self.mlp(jnp.concatenate([padded, slots]))[:length]


class SelfAttention(eqx.Module):
    """Multi-head self-attention: one matrix product for q, k, v, one for the output."""

    qkv: jax.Array  # (d, 3 d)
    out: jax.Array  # (d, d)
    heads: int = eqx.field(static=True)

    def __init__(self, size: int, heads: int, *, key: jax.Array):
        k1, k2 = jax.random.split(key)
        self.qkv = jax.random.normal(k1, (size, 3 * size)) / np.sqrt(size)
        self.out = jax.random.normal(k2, (size, size)) / np.sqrt(size)
        self.heads = heads

    def __call__(self, h: jax.Array, mask: jax.Array) -> jax.Array:  # (L, d), (L,) -> (L, d)
        length, size = h.shape
        q, k, v = jnp.split((h @ self.qkv).reshape(length, 3 * self.heads, size // self.heads), 3, axis=1)
        # Broadcast products, not batched matrix products: XLA's CPU backend runs a batch of tiny matrix
        # products (5 x 16 by 16 x 5, per sequence and head) far slower than the same arithmetic fused.
        scores = jnp.sum(q[:, None] * k[None, :], axis=-1) / np.sqrt(size // self.heads)  # (Lq, Lk, heads)
        scores = jnp.where(mask[None, :, None], scores, -jnp.inf)  # padded keys take no attention
        mixed = jnp.sum(jax.nn.softmax(scores, axis=1)[..., None] * v[None, :], axis=1)  # (Lq, heads, c)
        return mixed.reshape(length, size) @ self.out


class TransformerRanker(eqx.Module):
    """A pre-norm Transformer encoder on the values (no positional encoding); a score for each element."""

    embed: eqx.nn.Linear
    attention: tuple[SelfAttention, ...]
    feedforward: tuple[eqx.nn.MLP, ...]
    norms: tuple[eqx.nn.LayerNorm, ...]
    head: eqx.nn.Linear

    def __init__(self, *, key: jax.Array, size: int, layers: int, heads: int = 4):
        keys = jax.random.split(key, 2 + 2 * layers)
        self.embed = eqx.nn.Linear(1, size, key=keys[0])
        self.attention = tuple(SelfAttention(size, heads, key=k) for k in keys[2:2 + layers])
        self.feedforward = tuple(eqx.nn.MLP(size, size, 2 * size, depth=1, activation=jax.nn.relu, key=k)
                                 for k in keys[2 + layers:])
        self.norms = tuple(eqx.nn.LayerNorm(size) for _ in range(2 * layers + 1))
        self.head = eqx.nn.Linear(size, "scalar", key=keys[1])

    def __call__(self, values: jax.Array, mask: jax.Array) -> jax.Array:  # (L,), (L,) -> (L,)
        h = jax.vmap(self.embed)(values[:, None])
        for i, (attend, feed) in enumerate(zip(self.attention, self.feedforward)):
            h = h + attend(jax.vmap(self.norms[2 * i])(h), mask)
            h = h + jax.vmap(feed)(jax.vmap(self.norms[2 * i + 1])(h))
        return jax.vmap(self.head)(jax.vmap(self.norms[-1])(h))


class Comparator(eqx.Module):
    """g(a, b) = f(a, b) - f(b, a) > 0 when a is judged larger; an element's rank counts what it beats."""

    f: eqx.nn.MLP

    def __init__(self, *, key: jax.Array, width: int = 32):
        self.f = eqx.nn.MLP(2, "scalar", width, depth=2, activation=jax.nn.relu, key=key)

    def pairwise(self, values: jax.Array) -> jax.Array:  # (L,) -> (L, L): g(x_j, x_k)
        a, b = jnp.broadcast_arrays(values[:, None], values[None, :])
        pairs = jnp.stack([a, b], axis=-1)
        f = jax.vmap(jax.vmap(self.f))
        return f(pairs) - f(pairs[..., ::-1])

    def __call__(self, values: jax.Array, mask: jax.Array) -> jax.Array:  # (L,), (L,) -> (L,) normalised ranks
        beaten = jnp.sum((self.pairwise(values) > 0) & mask[None, :], axis=1)
        return beaten / jnp.maximum(jnp.sum(mask) - 1, 1)


def _loss(arm: str):
    def loss(net, batch):  # values (B, L), mask (B, L): the unmasked elements are the sequence
        values, mask = batch
        if arm == "comparator":
            scores = jax.vmap(net.pairwise)(values)  # (B, L, L)
            larger = (values[:, :, None] > values[:, None, :]).astype(jnp.float32)
            pairs = mask[:, :, None] & mask[:, None, :] & ~jnp.eye(values.shape[1], dtype=bool)
            return jnp.sum(optax.sigmoid_binary_cross_entropy(scores, larger) * pairs) / jnp.sum(pairs)
        error = (jax.vmap(net)(values, mask) - normalised_ranks(values, mask)) ** 2
        return jnp.sum(error * mask) / jnp.sum(mask)
    return loss


def model_factory(config: Config, arm: str) -> Callable[[jax.Array], eqx.Module]:
    return {"mlp": lambda key: MLPRanker(key=key, longest=config.longest, width=config.width),
            "transformer": lambda key: TransformerRanker(key=key, size=config.model_size, layers=config.layers),
            "comparator": lambda key: Comparator(key=key)}[arm]


def train_ranker(config: Config, arm: str, seeds: tuple[int, ...], progress: Progress = no_progress, *,
                 model: Callable[[jax.Array], eqx.Module] | None = None,
                 optimizer: optax.GradientTransformation | None = None):
    """Train one network per seed on fresh sequences of lengths 2 to L (padded to L, masked) with values in [0,
    ``train_high``], drawn inside the compiled loop."""
    def sample_batch(_, key):
        k_values, k_lengths = jax.random.split(key)
        values = jax.random.uniform(k_values, (config.batch_size, config.train_length), maxval=config.train_high)
        lengths = jax.random.randint(k_lengths, (config.batch_size, 1), 2, config.train_length + 1)
        return values, jnp.arange(config.train_length)[None, :] < lengths

    return train(keys=derive_keys(NAME, arm, seeds), init=model or model_factory(config, arm), loss=_loss(arm),
                 optimizer=optimizer or optax.adam(config.learning_rate), sample_batch=sample_batch,
                 evaluate=lambda net, _, key: {}, steps=config.steps, eval_every=config.steps, progress=progress,
                 label=arm)


def test_sets(config: Config, seed: int) -> dict[str, np.ndarray]:
    """name -> values ``(N, length)``: length L with values in [0, ``train_high``] like the training sequences (the
    control), each other test length with values in [0, 1] (``length-<n>``), and length L with values in [s, s + 1]
    for each shift (``shift-<s>``)."""
    rng = numpy_rng(NAME, "test", seed)
    n, length = config.test_sequences, config.train_length
    sets = {f"length-{length}": config.train_high * rng.random((n, length), dtype=np.float32)}
    for other in sorted(config.test_lengths):
        sets.setdefault(f"length-{other}", rng.random((n, other), dtype=np.float32))
    for shift in sorted(config.shifts):
        sets[shift_key(shift)] = (shift + rng.random((n, length))).astype(np.float32)
    return sets


def shift_key(shift: float) -> str:
    return f"shift-{shift:g}"


def score(predicted: np.ndarray, values: np.ndarray, order: np.ndarray | None = None) -> dict[str, float]:
    """Exact-sequence accuracy and per-position accuracy of predicted ranks ``(N, L)``, and Kendall tau-a of
    ``order`` (the scores the ranks were rounded from; default the ranks)."""
    order = predicted if order is None else order
    truth = true_ranks(values)
    n, length = values.shape
    output = np.full((n, length), np.nan)  # the value each output position receives (NaN: none or several)
    for i in range(length):
        at = predicted == i
        single = at.sum(axis=1) == 1
        output[single, i] = values[single][at[single]]
    expected = np.sort(values, axis=1)
    right = output == expected
    concordance = (np.sign(order[:, :, None] - order[:, None, :])
                   * np.sign(truth[:, :, None] - truth[:, None, :]))
    return {"exact": float(right.all(axis=1).mean()), "per_position": float(right.mean()),
            "kendall_tau": float(concordance.sum(axis=(1, 2)).mean() / (length * (length - 1)))}


@eqx.filter_jit
def _scores(net, values):
    return jax.vmap(net)(values, jnp.ones_like(values, dtype=bool))


def decode(scores: np.ndarray) -> np.ndarray:
    """Predicted ranks from normalised-rank scores ``(N, L)``: score x (L - 1), rounded, within 0..L - 1."""
    last = scores.shape[1] - 1
    return np.clip(np.rint(scores * last), 0, last).astype(int)


def evaluate_ranker(config: Config, arm: str, models, seeds: tuple[int, ...]) -> dict[str, np.ndarray]:
    """``<metric>/<test set>`` -> ``(S,)`` for the trained ``models`` (or ``np.sort`` when ``models`` is None)."""
    rows = []
    nets = seed_models(models, len(seeds)) if models is not None else [None] * len(seeds)
    for seed, net in zip(seeds, nets):
        row = {}
        for name, values in test_sets(config, seed).items():
            if net is None:
                scored = score(true_ranks(values), values)
            else:
                scores = np.asarray(_scores(net, jnp.asarray(values)))
                scored = score(decode(scores), values, scores)
            row.update({f"{metric}/{name}": value for metric, value in scored.items()})
        rows.append(row)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


@register
class Sorting(Experiment):
    name = NAME
    catalogue = "B2"
    version = 3  # 3: normalised-rank outputs, varied training lengths, the shift ablation; 2: evaluated once
    title = "Even learning a sorting algorithm is tremendously difficult"
    family = "generalization"
    claims = (CLAIM,)
    Config = Config
    profiles = {
        "smoke": {"steps": 200, "test_sequences": 100, "width": 64, "model_size": 16, "layers": 1},
        "quick": {"steps": 3_000, "test_sequences": 500, "model_size": 32},
        "paper": {},
    }
    default_seeds = {"smoke": 2, "quick": 4, "paper": 8}
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "200 steps, small networks: checks the plumbing, not the claim",
        "quick": "3,000 Adam steps of 128 sequences, Transformer width 32; 500 test sequences per set",
        "paper": "our setting (Vinyals et al. train an LSTM pointer network per N; Chollet gives no setting): "
                 "lengths 2 to 5, 10,000 Adam steps of 128 sequences, tests at 10 and 15 and on values in [s, s + 1] "
                 "for shifts 0.25 to 8, judged at 1",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        return (Arm("mlp", "failing", f"ReLU MLP (2 x {config.width}) on values padded to {config.longest} slots"),
                Arm("transformer", "failing", f"Transformer encoder ({config.layers} layers, width "
                                              f"{config.model_size}, no positional encoding)"),
                Arm("comparator", "remedy", "a shared learned comparator of pairs; rank = elements beaten"),
                Arm("np.sort", "control", "the algorithm: checks the test sets and the scorer (reported, not judged)"))

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        arms = {}
        for arm in (*NETS, "comparator", "np.sort"):
            log = train_ranker(config, arm, seeds, progress) if arm != "np.sort" else None
            final = evaluate_ranker(config, arm, log.models if log else None, seeds)
            # evaluated once, after training (the algorithm: at step 0); per length in `final`
            arms[arm] = ArmResults(steps=np.array([config.steps if log else 0]), final=final,
                                   diverged=log.diverged if log else np.zeros(len(seeds), bool),
                                   wall_s=log.wall_s if log else 0.0)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds, arms=arms,
                       wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        config = results.config
        length, longest = config["train_length"], max(config["test_lengths"])
        shift = config["judged_shift"]
        tests = ((f"length-{longest}", f"at length {longest}"),
                 (shift_key(shift), f"on values in [{shift:g}, {shift + 1:g}]"))

        def share(arm: str, key: str):
            return mean_interval(results.arms[arm].final[key], bounds=ACCURACY)

        def tau(arm: str, key: str):
            return mean_interval(results.arms[arm].final[f"kendall_tau/{key}"], bounds=(-1.0, 1.0))

        checks = []
        for arm, judged in (("transformer", tests), ("mlp", tests[1:])):
            for key, label in judged:
                iv = tau(arm, key)
                checks.append(describe(f"{arm} Kendall tau {label}", iv, at_most(iv, TAU_FAILS), f"<= {TAU_FAILS}"))
                iv = share(arm, f"exact/{key}")
                checks.append(describe(f"{arm} exact accuracy {label}", iv, at_most(iv, FAILS), f"<= {FAILS}"))
        high = config["train_high"]
        controls = [describe(f"{arm} exact accuracy at length {length}, values in [0, {high:g}] (control)",
                             iv := share(arm, f"exact/length-{length}"), at_least(iv, LEARNED), f">= {LEARNED}")
                    for arm in NETS]
        key, label = tests[0]
        notes = [note(f"mlp {key}", iv := share("mlp", f"exact/{key}"),
                      f"mlp {label} (not judged: its slots beyond {length} never train): exact accuracy {iv}, "
                      f"Kendall tau {tau('mlp', key)}"),
                 note("np.sort", iv := share("np.sort", f"exact/length-{longest}"),
                      f"np.sort exact accuracy {label} {iv} (checks the scorer: sorted output scores 1)")]
        notes += [note(f"comparator {key}", iv := share("comparator", f"exact/{key}"),
                       f"remedy (comparator) exact accuracy {label} {iv}, Kendall tau {tau('comparator', key)}")
                  for key, label in ((f"length-{length}", f"at length {length}"), *tests)]
        notes += [note(f"{arm} shifts", share(arm, f"exact/{shift_key(shift)}"),
                       f"{arm} against the shift s of values in [s, s + 1]: " + "; ".join(
                           f"s = {s:g} exact {share(arm, f'exact/{shift_key(s)}')}, tau {tau(arm, shift_key(s))}"
                           for s in sorted(config["shifts"])))
                  for arm in NETS]
        notes += [note(f"{arm} per position", iv := share(arm, f"per_position/length-{longest}"),
                       f"{arm} per-position accuracy at length {longest} {iv}") for arm in NETS]
        rule = (f"reproduced if the 95% intervals of Kendall tau (scores against true ranks) are <= {TAU_FAILS} and "
                f"of exact-sequence accuracy <= {FAILS}: the Transformer's at length {longest}, and the MLP's and the "
                f"Transformer's on values in [{shift:g}, {shift + 1:g}] (length {length}; shift fixed before "
                f"measuring), while on sequences like the training ones (length {length}, values in [0, {high:g}]) "
                f"both networks' exact accuracy is >= {LEARNED}")
        return [decide(claim_id=CLAIM.id, quantity=f"Transformer Kendall tau at length {longest}", rule=rule,
                       main=checks[0], extra=tuple(checks[1:]), controls=tuple(controls), notes=tuple(notes))]

    def figures(self, results: Results) -> dict:
        fig, (ax, shifted) = new_figure(2, width=5.0)
        from deeplimits.report.style import plot_band

        arms = (*NETS, "comparator", "np.sort")
        lengths = sorted({results.config["train_length"], *results.config["test_lengths"]})
        shifts = np.array(sorted(results.config["shifts"]))
        for color, arm in zip(PALETTE, arms):
            final = results.arms[arm].final
            by_length = np.stack([final[f"exact/length-{n}"] for n in lengths], axis=1)  # (S, L)
            plot_band(ax, np.array(lengths), by_length, label=arm, color=color)
            for metric, style in (("exact", "-"), ("kendall_tau", "--")):
                by_shift = np.stack([final[f"{metric}/{shift_key(s)}"] for s in shifts], axis=1)  # (S, shifts)
                plot_band(shifted, shifts, by_shift, label=f"{arm}, {'exact' if metric == 'exact' else 'tau'}",
                          color=color, linestyle=style)
        ax.axvline(results.config["train_length"], color="grey", linewidth=0.8, linestyle=":", label="training length")
        ax.set(xlabel="sequence length (values in [0, 1])", ylabel="exact-sequence accuracy", ylim=(-0.02, 1.02),
               title="Sorting longer sequences (95% bands over seeds)")
        ax.legend(fontsize=8)
        shifted.axvline(results.config["judged_shift"], color="grey", linewidth=0.8, linestyle=":", label="judged")
        shifted.set(xscale="log" if shifts.min() > 0 else "linear", xlabel="shift s (values in [s, s + 1])",
                    ylabel="exact accuracy, Kendall tau",
                    ylim=(-1.02, 1.02), title=f"Length {results.config['train_length']}: values beyond the training "
                                              f"range")
        shifted.legend(fontsize=6, ncol=2)
        return {CLAIM.id: fig}
