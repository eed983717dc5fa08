"""B1 `adversarial`: imperceptible changes upend a classification.

Claims. Chollet 2017: "by taking a picture of a panda and adding to it a 'gibbon'
gradient, we can get a neural network to classify this panda as a gibbon."
`adversarial-imperceptible`: an L-infinity perturbation far smaller than the pixel
range (``attack_epsilon`` = 0.1, 1.6 of the digits' 16 grey levels) flips most
predictions of a trained CNN and MLP, untargeted and targeted (every source class to
``target_class``), while random signs of the same size flip almost none. The Zhihu
answers add `adversarial-not-only-deep`: linear models (a linear SVM, logistic
regression; scikit-learn) are fooled at the same size, so adversarial examples are
a problem of deep learning but not its bottleneck. `adversarial-training-cost`: PGD
adversarial training (Madry et al. 2018) raises robust accuracy, at a cost in clean
accuracy.

Attacks (``engine.attacks``, JAX): FGSM; PGD with a random start, ``pgd_steps``
steps of ``pgd_step_fraction`` x eps (Madry et al. on MNIST: eps 0.3, 40 steps of 0.01, the
defaults here), projected on the eps-ball and [0, 1]; random signs as the control.
Linear models are attacked exactly: their worst case over the box is a corner
(``engine.attacks.linear_worst_case``), so no attack could do better. Success rate:
the share of test images first classified correctly whose prediction the attack
changes (targeted: to the target, over images of other classes). Robust accuracy:
accuracy on PGD's images. Measured for every eps in ``epsilons``; verdicts at
``attack_epsilon``.

Data and seeds: scikit-learn's 8x8 digits (``deeplimits.data.digits``), the fixed
test split (the first ``attack_images`` test images). A seed sets a network's
initialisation, batches and the attacks' random starts, and the random state of the
linear models' solvers (their fits barely depend on it, so their intervals are
narrow: they cover the seed, not the choice of test images).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from deeplimits.config import ConfigError, param, to_dict
from deeplimits.data import GREY_LEVEL, load_digits
from deeplimits.engine import derive_key, derive_keys, numpy_rng, seed_models
from deeplimits.engine.attacks import fgsm, linear_worst_case, pgd, random_signs_noise
from deeplimits.engine.classify import ModelFactory, digits_cnn, digits_mlp, fit_classifier
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
from deeplimits.stats import Check, at_least, at_most, decide, describe, mean_interval, note

NAME = "adversarial"
SUCCESS_MIN = 0.5  # "flips most predictions": success rate interval >= 0.5
NOISE_MAX = 0.1  # "almost none": random signs flip at most 10%
LEARNED = 0.9  # every attacked model must first classify well
ROBUST_GAIN_MIN = 0.2  # adversarial training raises robust accuracy by at least 0.2
ACCURACY = (0.0, 1.0)
NETS = ("cnn", "mlp")
LINEAR = ("linear-svm", "logistic-regression")
ATTACKS = ("pgd", "fgsm", "pgd-targeted", "noise")
EXAMPLES = 6  # digits in the examples figure
_TINY = {"attack_epsilon": GREY_LEVEL / 12, "epsilons": (GREY_LEVEL / 12,), "steps": 600}

CLAIM_IMPERCEPTIBLE = Claim(
    id="adversarial-imperceptible",
    statement="An L-infinity perturbation of 0.1 (pixels in [0, 1]) flips most predictions of a trained CNN and "
              "MLP, untargeted and targeted, while random signs of the same size flip almost none.",
    source="Chollet 2017; Goodfellow et al. 2015; Madry et al. 2018",
    expected="Goodfellow et al. 2015: FGSM at eps 0.25 on MNIST, 99.9% error for a softmax model, 89.4% for maxout "
             "networks; Madry et al. 2018: PGD (eps 0.3, 40 steps of 0.01) defeats standard MNIST networks.",
    budget=("steps",),
    falsified_by=Falsification(why="at eps = 1/12 of a grey level no prediction of a network with margin can flip",
                               profile="smoke", seeds=4, overrides=_TINY),
)
CLAIM_LINEAR = Claim(
    id="adversarial-not-only-deep",
    statement="A linear SVM and logistic regression are fooled at the same perturbation size (exact worst case).",
    source="Zhihu answers; Goodfellow et al. 2015",
    expected="Goodfellow et al. 2015: linear behaviour in high dimensions suffices for adversarial examples; a "
             "softmax (logistic) model on MNIST errs on 99.9% of FGSM images at eps 0.25.",
    falsified_by=Falsification(why="at eps = 1/12 of a grey level the exact worst case flips almost nothing",
                               profile="smoke", seeds=4, overrides=_TINY),
)
CLAIM_TRAINING = Claim(
    id="adversarial-training-cost",
    statement="PGD adversarial training raises the CNN's robust accuracy at eps 0.1 by at least 0.2, at a cost in "
              "clean accuracy.",
    source="Madry et al. 2018; Tsipras et al. 2019",
    expected="Madry et al. 2018: a PGD-trained MNIST network keeps about 89% accuracy against PGD at eps 0.3 "
             "(a standard one: near 0%); clean accuracy falls slightly (98.8% vs 99.2%).",
    budget=("steps", "train_pgd_steps"),
    falsified_by=Falsification(why="adversarial training at eps = 1/12 of a grey level does not prepare the network "
                                   "for eps 0.1, so robust accuracy is not raised",
                               profile="smoke", seeds=4, overrides={"train_epsilon": GREY_LEVEL / 12, "steps": 600}),
)


@dataclass(frozen=True)
class Config:
    steps: int = param(3_000, "Adam steps per network", min=1, max=1_000_000)
    batch_size: int = param(64, "images per step", min=1, max=4_096)
    learning_rate: float = param(1e-3, "Adam learning rate", min=0.0, max=1.0)
    eval_every: int = param(500, "steps between evaluations on the test split", min=1, max=1_000_000)
    epsilons: tuple[float, ...] = param((0.02, 0.05, 0.1, 0.2, 0.25, 0.3), "L-infinity sizes of the sweep (pixels in "
                                        "[0, 1])", min=0.0, max=1.0, distinct=True)
    attack_epsilon: float = param(0.1, "the size the verdicts judge", min=0.0, max=1.0)
    pgd_steps: int = param(40, "PGD steps of an attack (Madry et al.: 40)", min=1, max=1_000)
    pgd_step_fraction: float = param(1 / 30, "PGD step as a fraction of eps (Madry et al.: 0.01 at eps 0.3)", min=0.0,
                            max=1.0)
    target_class: int = param(0, "the class of targeted attacks (the 'gibbon')", min=0, max=9)
    attack_images: int = param(360, "test images attacked (the test split has 360)", min=10, max=360)
    train_epsilon: float = param(0.1, "eps of adversarial training", min=0.0, max=1.0)
    train_pgd_steps: int = param(40, "PGD steps per batch in adversarial training", min=1, max=1_000)
    svm_c: float = param(1.0, "regularisation C of the linear SVM and logistic regression", min=1e-6, max=1e6)

    def __post_init__(self) -> None:
        if self.eval_every > self.steps:
            raise ConfigError(f"eval_every={self.eval_every} exceeds steps={self.steps}")


def train_net(config: Config, arm: str, seeds: tuple[int, ...], progress: Progress = no_progress, *,
              model: ModelFactory, optimizer: optax.GradientTransformation | None = None, adversarial: bool = False):
    """Train ``model`` with ``optimizer`` (default Adam); with ``adversarial``, on PGD images of each batch."""
    digits = load_digits()
    eps = config.train_epsilon

    def pgd_images(net, x, y, key):
        return pgd(net, x, y, eps, key=key, steps=config.train_pgd_steps, step_size=config.pgd_step_fraction * eps)

    return fit_classifier(keys=derive_keys(NAME, arm, seeds), model=model,
                          optimizer=optimizer or optax.adam(config.learning_rate), x=digits.x_train,
                          y=digits.y_train, eval_sets={"test": (digits.x_test, digits.y_test)},
                          perturb=pgd_images if adversarial else None,
                          steps=config.steps, batch_size=config.batch_size, eval_every=config.eval_every,
                          progress=progress, label=arm)


@eqx.filter_jit
def _attack_all(net, x, y, eps, key, *, steps: int, step: float, target: int):
    """Predictions ``(attacks, E, N)`` under each attack at each eps of ``eps (E,)``, and on clean ``x`` ``(N,)``."""
    def at(e, k):
        k_pgd, k_target, k_noise = jax.random.split(k, 3)
        images = (pgd(net, x, y, e, key=k_pgd, steps=steps, step_size=step * e), fgsm(net, x, y, e),
                  pgd(net, x, jnp.full_like(y, target), e, key=k_target, steps=steps, step_size=step * e,
                      targeted=True),
                  random_signs_noise(x, e, key=k_noise))
        return jnp.stack([jnp.argmax(jax.vmap(net)(im), axis=-1) for im in images])

    keys = jax.random.split(key, eps.shape[0])
    return jax.lax.map(lambda args: at(*args), (eps, keys)).transpose(1, 0, 2), jnp.argmax(jax.vmap(net)(x), axis=-1)


def rates(clean: np.ndarray, attacked: np.ndarray, y: np.ndarray, target: int) -> dict[str, np.ndarray]:
    """Success rates and robust accuracy from predictions: ``(N,), (attacks, E, N) -> name -> (E,)``."""
    right = clean == y
    others = right & (y != target)

    def share(hits: np.ndarray) -> np.ndarray:  # (E, n) -> (E,); NaN where no image qualifies (untrained net)
        return hits.mean(axis=1) if hits.shape[1] else np.full(hits.shape[0], np.nan)

    out = {f"success/{a}": share(attacked[i][:, right] != y[right]) for i, a in enumerate(ATTACKS)}
    out["success/pgd-targeted"] = share(attacked[2][:, others] == target)
    out["robust_accuracy"] = np.mean(attacked[0] == y, axis=1)
    return out


def attack_nets(config: Config, models, seeds: tuple[int, ...], arm: str) -> dict[str, np.ndarray]:
    """Every attack at every eps on each seed's network: name -> ``(S, E)``; clean accuracy ``(S,)``."""
    digits = load_digits()
    x, y = digits.x_test[:config.attack_images], digits.y_test[:config.attack_images]
    eps = jnp.asarray(grid(config), jnp.float32)
    rows = []
    for seed, net in zip(seeds, seed_models(models, len(seeds))):
        attacked, clean = _attack_all(net, jnp.asarray(x), jnp.asarray(y), eps, derive_key(NAME, f"attack-{arm}", seed),
                                      steps=config.pgd_steps, step=config.pgd_step_fraction, target=config.target_class)
        rows.append({**rates(np.asarray(clean), np.asarray(attacked), y, config.target_class),
                     "clean_accuracy": np.mean(np.asarray(clean) == y)})
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def fit_linear(config: Config, kind: str, seed: int):
    """A linear SVM (one-vs-rest, squared hinge) or multinomial logistic regression on the 64 pixels."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    digits = load_digits()
    state = int(numpy_rng(NAME, kind, seed).integers(2**31))
    model = (LinearSVC(C=config.svm_c, random_state=state, max_iter=20_000) if kind == "linear-svm"
             else LogisticRegression(C=config.svm_c, random_state=state, max_iter=5_000))
    return model.fit(digits.x_train.reshape(len(digits.x_train), -1), digits.y_train)


def attack_linear(config: Config, kind: str, seeds: tuple[int, ...]) -> ArmResults:
    start = time.perf_counter()
    digits = load_digits()
    x = digits.x_test[:config.attack_images].reshape(config.attack_images, -1)
    y = digits.y_test[:config.attack_images]
    success, clean = np.empty((len(seeds), len(grid(config)))), np.empty(len(seeds))
    for i, seed in enumerate(seeds):
        model = fit_linear(config, kind, seed)
        right = model.predict(x) == y
        clean[i] = right.mean()
        for j, eps in enumerate(grid(config)):  # an untrained model classifies nothing right: NaN
            success[i, j] = np.nan if not right.any() else 0.0
            if right.any():
                success[i, j] = linear_worst_case(model.coef_, model.intercept_, x[right], y[right], eps).mean()
    final = {"clean_accuracy": clean, "success": _at(config, success)}
    return ArmResults(steps=np.asarray(grid(config)), curves={"success/exact": success}, final=final,
                      diverged=np.zeros(len(seeds), bool), wall_s=time.perf_counter() - start)


def size_for_half(eps: np.ndarray, success: np.ndarray) -> np.ndarray:
    """Per seed, the eps at which the success rate first reaches 0.5 (linear between measured eps; NaN if it
    never does): ``(E,), (S, E) -> (S,)``."""
    out = np.full(success.shape[0], np.nan)
    for s, row in enumerate(success):
        above = np.nonzero(row >= 0.5)[0]
        if above.size:
            j = above[0]
            out[s] = eps[0] if j == 0 else np.interp(0.5, row[j - 1:j + 1], eps[j - 1:j + 1])
    return out


def grid(config: Config | dict) -> tuple[float, ...]:
    """The eps measured: ``epsilons`` and ``attack_epsilon``, sorted."""
    get = config.get if isinstance(config, dict) else lambda k: getattr(config, k)
    return tuple(sorted({*get("epsilons"), get("attack_epsilon")}))


def _at(config: Config | dict, values: np.ndarray, eps: str | float = "attack_epsilon") -> np.ndarray:
    """The column of ``values (S, E)`` at ``attack_epsilon`` (or at the eps given)."""
    value = config["attack_epsilon"] if eps == "attack_epsilon" and isinstance(config, dict) else (
        config.attack_epsilon if eps == "attack_epsilon" else eps)
    return values[:, grid(config).index(value)]


def run_net(config: Config, arm: str, seeds: tuple[int, ...], progress: Progress, *, model: ModelFactory,
            optimizer: optax.GradientTransformation | None = None, adversarial: bool = False):
    """Train and attack one network per seed: its results and the trained models."""
    log = train_net(config, arm, seeds, progress, model=model, optimizer=optimizer, adversarial=adversarial)
    start = time.perf_counter()
    measured = attack_nets(config, log.models, seeds, arm)
    curves = {k: v for k, v in measured.items() if k != "clean_accuracy"}
    final = {"clean_accuracy": measured["clean_accuracy"], **{k: _at(config, v) for k, v in curves.items()}}
    return ArmResults(steps=np.asarray(grid(config)), curves=curves, final=final, diverged=log.diverged,
                      wall_s=log.wall_s + time.perf_counter() - start), log.models


def examples(config: Config, models, seeds: tuple[int, ...], n: int = EXAMPLES) -> dict[str, np.ndarray]:
    """The first ``n`` test digits, their PGD images at ``attack_epsilon`` and the CNN's readings, per seed."""
    digits = load_digits()
    x, y = jnp.asarray(digits.x_test[:n]), jnp.asarray(digits.y_test[:n])
    eps = config.attack_epsilon
    rows = []
    for seed, net in zip(seeds, seed_models(models, len(seeds))):
        adv = pgd(net, x, y, eps, key=derive_key(NAME, "examples", seed), steps=config.pgd_steps,
                  step_size=config.pgd_step_fraction * eps)
        rows.append({"x": np.asarray(x), "adversarial": np.asarray(adv), "label": np.asarray(y),
                     **{k: np.asarray(jnp.argmax(jax.vmap(net)(im), axis=-1)) for k, im in (("before", x),
                                                                                          ("after", adv))}})
    return {f"examples/{k}": np.stack([r[k] for r in rows]) for k in rows[0]}


@register
class Adversarial(Experiment):
    name = NAME
    catalogue = "B1"
    version = 1
    title = "Imperceptible changes upend a classification"
    family = "robustness"
    claims = (CLAIM_IMPERCEPTIBLE, CLAIM_LINEAR, CLAIM_TRAINING)
    Config = Config
    profiles = {
        "smoke": {"steps": 200, "eval_every": 100, "epsilons": (0.05, 0.3), "pgd_steps": 5, "pgd_step_fraction": 0.5,
                  "attack_images": 60, "train_pgd_steps": 3, "train_epsilon": 0.1},
        "quick": {"steps": 1_000, "pgd_steps": 20, "pgd_step_fraction": 1 / 15, "attack_images": 200,
                  "train_pgd_steps": 5, "eval_every": 250},
        "paper": {},
    }
    default_seeds = {"smoke": 2, "quick": 5, "paper": 8}
    untrained = {"learning_rate": 0.0}
    profile_notes = {
        "smoke": "200 steps, 5-step attacks on 60 images: checks the plumbing, not the claims",
        "quick": "1,000 Adam steps; PGD attacks of 20 steps of eps/15 on 200 test images; adversarial training "
                 "with 5 PGD steps per batch (the paper profile: 40 of eps/30, on all 360, and 40 in training)",
        "paper": "Madry et al.'s attack (40 PGD steps of eps/30: 0.01 at eps 0.3) and adversarial training (40 "
                 "steps) on 8x8 digits; 3,000 Adam steps of 64 images",
    }

    def arms(self, config: Config) -> tuple[Arm, ...]:
        return (Arm("cnn", "failing", "small CNN: attacked with PGD, FGSM, targeted PGD; random signs as control"),
                Arm("mlp", "failing", "two-layer ReLU MLP, attacked the same way"),
                Arm("linear-svm", "failing", "linear SVM (scikit-learn), exact worst-case perturbation"),
                Arm("logistic-regression", "failing", "logistic regression (scikit-learn), exact worst case"),
                Arm("random-signs", "control", "the CNN and MLP under random signs of each size: must flip almost "
                                               "nothing"),
                Arm("cnn-adversarial", "remedy", f"the CNN trained on PGD images (eps {config.train_epsilon}, "
                                                 f"{config.train_pgd_steps} steps)"))

    def run(self, config: Config, seeds: tuple[int, ...], progress: Progress = no_progress) -> Results:
        start = time.perf_counter()
        arms, cnn_models = {}, None
        arms["cnn"], cnn_models = run_net(config, "cnn", seeds, progress, model=digits_cnn)
        arms["mlp"], _ = run_net(config, "mlp", seeds, progress, model=digits_mlp)
        arms["random-signs"] = ArmResults(
            steps=arms["cnn"].steps, curves={f"flips/{a}": arms[a].curves["success/noise"] for a in NETS},
            final={f"flips/{a}": arms[a].final["success/noise"] for a in NETS},
            diverged=arms["cnn"].diverged | arms["mlp"].diverged)
        for kind in LINEAR:
            arms[kind] = attack_linear(config, kind, seeds)
        arms["cnn-adversarial"], _ = run_net(config, "cnn-adversarial", seeds, progress, model=digits_cnn,
                                             adversarial=True)
        return Results(experiment=NAME, version=self.version, config=to_dict(config), seeds=seeds, arms=arms,
                       diagnostics=examples(config, cnn_models, seeds), wall_s=time.perf_counter() - start)

    def verdicts(self, results: Results) -> list[Verdict]:
        return [self._verdict_imperceptible(results), self._verdict_linear(results), self._verdict_training(results)]

    @staticmethod
    def _share(name: str, values: np.ndarray, at: str, threshold: float) -> Check:
        iv = mean_interval(values, bounds=ACCURACY)
        rule = at_least if at == ">=" else at_most
        return describe(name, iv, rule(iv, threshold), f"{at} {threshold}")

    def _learned(self, results: Results, arms: tuple[str, ...]) -> tuple[Check, ...]:
        return tuple(self._share(f"{a} clean accuracy (control)", results.arms[a].final["clean_accuracy"], ">=",
                                 LEARNED) for a in arms)

    def _verdict_imperceptible(self, results: Results) -> Verdict:
        eps = results.config["attack_epsilon"]
        checks = [self._share(f"{a} {label} success at eps {eps:g}", results.arms[a].final[f"success/{attack}"],
                              ">=", SUCCESS_MIN)
                  for attack, label in (("pgd", "PGD"), ("pgd-targeted", f"targeted PGD (to "
                                                         f"{results.config['target_class']})")) for a in NETS]
        checks += [self._share(f"{a} random-sign flips at eps {eps:g}",
                               results.arms["random-signs"].final[f"flips/{a}"], "<=", NOISE_MAX) for a in NETS]
        eps_grid = np.asarray(grid(results.config))
        notes = [note(f"{a} {attack} eps50", iv := mean_interval(size_for_half(eps_grid, results.arms[a].curves[
            f"success/{attack}"])), f"{a} {label} reaches 50% success at eps {iv}")
            for a in (*NETS, *LINEAR) for attack, label in (("pgd", "PGD"), ("pgd-targeted", "targeted PGD"),
                                                            ("exact", "the exact worst case"))
            if f"success/{attack}" in results.arms[a].curves]
        if 0.25 in grid(results.config):
            for a in NETS:
                iv = mean_interval(_at(results.config, results.arms[a].curves["success/fgsm"], 0.25))
                notes.append(note(f"{a} FGSM 0.25", iv, f"{a} FGSM success at eps 0.25 {iv} (Goodfellow et al. "
                                                        f"2015 on MNIST: 99.9% error softmax, 89.4% maxout)"))
        rule = (f"reproduced if at eps {eps:g} the 95% intervals of PGD's success rate (share of correctly classified "
                f"test images whose prediction changes) and of targeted PGD's (share sent to the target) are >= "
                f"{SUCCESS_MIN} for the CNN and the MLP, and random signs of the same size flip <= {NOISE_MAX}, "
                f"while both classify clean digits with accuracy >= {LEARNED}")
        return decide(claim_id=CLAIM_IMPERCEPTIBLE.id, quantity=f"CNN PGD success rate at eps {eps:g}", rule=rule,
                      main=checks[0], extra=tuple(checks[1:]), controls=self._learned(results, NETS),
                      notes=tuple(notes))

    def _verdict_linear(self, results: Results) -> Verdict:
        eps = results.config["attack_epsilon"]
        checks = [self._share(f"{a} exact worst-case success at eps {eps:g}", results.arms[a].final["success"], ">=",
                              SUCCESS_MIN) for a in LINEAR]
        cnn = mean_interval(results.arms["cnn"].final["success/pgd"])
        rule = (f"reproduced if at eps {eps:g} the 95% intervals of the exact worst-case success rate are >= "
                f"{SUCCESS_MIN} for the linear SVM and logistic regression, while they and the CNN they are compared "
                f"with classify clean digits with accuracy >= {LEARNED}")
        return decide(claim_id=CLAIM_LINEAR.id, quantity=f"linear SVM worst-case success rate at eps {eps:g}",
                      rule=rule, main=checks[0], extra=(checks[1],), controls=self._learned(results, (*LINEAR, "cnn")),
                      notes=(note("CNN PGD", cnn, f"for comparison, CNN PGD success at eps {eps:g}: {cnn}"),))

    def _verdict_training(self, results: Results) -> Verdict:
        eps = results.config["attack_epsilon"]
        plain, trained = results.arms["cnn"].final, results.arms["cnn-adversarial"].final
        gain = mean_interval(trained["robust_accuracy"] - plain["robust_accuracy"])
        cost = mean_interval(plain["clean_accuracy"] - trained["clean_accuracy"])
        main = describe(f"robust accuracy gain at eps {eps:g} (PGD-trained minus standard CNN)", gain,
                        at_least(gain, ROBUST_GAIN_MIN), f">= {ROBUST_GAIN_MIN}")
        paid = describe("clean accuracy cost (standard minus PGD-trained CNN)", cost, at_least(cost, 0.0), ">= 0")
        robust, clean = ({arm: mean_interval(values[key], bounds=ACCURACY) for arm, values in
                          (("trained", trained), ("plain", plain))} for key in ("robust_accuracy", "clean_accuracy"))
        notes = [note("robust accuracy", robust["trained"],
                      f"PGD-trained CNN robust accuracy at eps {eps:g} {robust['trained']}, clean {clean['trained']}; "
                      f"standard CNN {robust['plain']}, clean {clean['plain']}")]
        if 0.3 in grid(results.config):
            iv = mean_interval(_at(results.config, results.arms["cnn-adversarial"].curves["robust_accuracy"], 0.3))
            notes.append(note("robust 0.3", iv, f"PGD-trained CNN robust accuracy at eps 0.3 {iv} (trained at eps "
                                                f"{results.config['train_epsilon']:g}; Madry et al. 2018, MNIST, "
                                                f"trained at 0.3: about 89%)"))
        rule = (f"reproduced if the 95% interval (paired over seeds) of the PGD-trained CNN's robust accuracy at eps "
                f"{eps:g} minus the standard CNN's is >= {ROBUST_GAIN_MIN} and that of the standard CNN's clean "
                f"accuracy minus the PGD-trained one's is >= 0 (a cost), while the standard CNN learns (>= {LEARNED})")
        return decide(claim_id=CLAIM_TRAINING.id, quantity=f"robust accuracy gain at eps {eps:g}", rule=rule,
                      main=main, extra=(paid,), controls=self._learned(results, ("cnn",)), notes=tuple(notes))

    def figures(self, results: Results) -> dict:
        from deeplimits.report.style import plot_band

        eps = np.asarray(grid(results.config))
        fig, (ax, robust) = new_figure(2, width=5.2)
        lines = [("cnn", "pgd", "CNN, PGD", "-"), ("cnn", "pgd-targeted", "CNN, targeted PGD", "--"),
                 ("cnn", "fgsm", "CNN, FGSM", ":"), ("mlp", "pgd", "MLP, PGD", "-"),
                 ("mlp", "pgd-targeted", "MLP, targeted PGD", "--"), ("cnn", "noise", "CNN, random signs", "-."),
                 ("mlp", "noise", "MLP, random signs", "-.")]
        for arm, attack, label, style in lines:
            plot_band(ax, eps, results.arms[arm].curves[f"success/{attack}"], label=label,
                      color=PALETTE[0 if arm == "cnn" else 1], linestyle=style)
        for color, arm in zip(PALETTE[2:], LINEAR):
            plot_band(ax, eps, results.arms[arm].curves["success/exact"], label=f"{arm}, exact", color=color)
        ax.axvline(results.config["attack_epsilon"], color="grey", linewidth=0.8)
        ax.axvline(GREY_LEVEL, color="grey", linewidth=0.8, linestyle=":", label="one grey level")
        ax.set(xlabel="L-infinity size eps (pixels in [0, 1])", ylabel="success rate",
               title="Attacks on 8x8 digits (95% bands over seeds)", ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
        for color, arm in zip(PALETTE, ("cnn", "cnn-adversarial")):
            plot_band(robust, eps, results.arms[arm].curves["robust_accuracy"], label=arm, color=color)
        robust.set(xlabel="PGD size eps", ylabel="robust accuracy (accuracy on PGD images)", ylim=(-0.02, 1.02),
                   title=f"Adversarial training at eps {results.config['train_epsilon']:g}")
        robust.legend(fontsize=8)
        return {CLAIM_IMPERCEPTIBLE.id: fig, CLAIM_LINEAR.id: fig, CLAIM_TRAINING.id: fig,
                "adversarial-examples": self._figure_examples(results)}

    def _figure_examples(self, results: Results):
        """Originals, perturbations and PGD images with the CNN's predictions (first seed, claim eps)."""
        diag, eps = results.diagnostics, results.config["attack_epsilon"]
        n = diag["examples/x"].shape[1]
        fig, axes = new_figure(n, nrows=3, width=1.3, height=1.4)
        for i in range(n):
            x, adv = diag["examples/x"][0, i], diag["examples/adversarial"][0, i]
            label, before, after = (int(diag[f"examples/{k}"][0, i]) for k in ("label", "before", "after"))
            for row, (image, title, cmap, span) in enumerate(((x, f"{label}, read {before}", "gray_r", (0, 1)),
                                                              (adv - x, f"change ±{eps:g}", "coolwarm", (-eps, eps)),
                                                              (adv, f"PGD: read {after}", "gray_r", (0, 1)))):
                ax = axes[row * n + i]
                ax.imshow(image, cmap=cmap, vmin=span[0], vmax=span[1])
                ax.set_title(title, fontsize=8)
                ax.set_xticks([]), ax.set_yticks([])
        return fig
