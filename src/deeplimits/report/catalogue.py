"""The catalogue of claims (CLAIMS.md), as data the report can read on any machine.

CLAIMS.md lives beside the repository, not inside the installed package, so its
index is kept here. A test checks that this index and CLAIMS.md name the same
entries whenever CLAIMS.md is at hand.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCES = {
    "SSS17": "Shalev-Shwartz, Shamir & Shammah, “Failures of Gradient-Based Deep Learning”, ICML 2017, "
             "arXiv 1703.07950",
    "Cho17": "François Chollet, “The limitations of deep learning”, 2017",
    "Ram": "Bharath Ramsundar's list of what deep learning cannot do",
    "Zhihu": "Answers to “What are the bottlenecks of deep learning?” (Zhihu)",
}


@dataclass(frozen=True)
class Entry:
    id: str  # "A1": stable, also the ordering
    name: str  # the experiment's registered name
    title: str
    source: str  # where in the source, e.g. "SSS17 §2.1, Fig. 1; Theorem 1"


CATALOGUE = (
    Entry("A1", "parity", "Non-informative gradients: random parities", "SSS17 §2.1, Fig. 1; Theorem 1"),
    Entry("A2", "linear-periodic", "Periodic functions of a linear map", "SSS17 §2.1, Theorem 2 (Shamir 2016)"),
    Entry("A3", "tuple-lines", "End-to-end vs decomposition: parities of line images", "SSS17 §3.1, Figs. 2, 3, 5"),
    Entry("A4", "portfolio", "End-to-end vs decomposition estimators", "SSS17 §3.2, Fig. 4"),
    Entry("A5", "pwl-curves", "Architecture and conditioning: piecewise-linear curves", "SSS17 §4, Fig. 6"),
    Entry("A6", "flat-activations", "Piecewise-flat activations and a forward-only rule", "SSS17 §5, Fig. 7"),
    Entry("B1", "adversarial", "Imperceptible changes upend a classification", "Cho17; Zhihu"),
    Entry("B2", "sorting", "Even learning a sorting algorithm is tremendously difficult", "Cho17"),
    Entry("B3", "extrapolation", "Local vs extreme generalization, data hunger", "Cho17; Zhihu"),
    Entry("C1", "color-inversion", "A recognizer breaks when colors are swapped", "Ram #2"),
    Entry("C2", "constraints", "Poor at satisfying constraints, unlike linear programming", "Ram #4"),
    Entry("C3", "gan-instability", "GANs are unstable and depend on the initialisation", "Ram #5"),
    Entry("C4", "shortcut", "Deep nets do not extract causal models", "Ram #6"),
    Entry("C5", "rl-sensitivity", "Reinforcement learning hinges on tuning", "Ram #8"),
    Entry("C6", "forgetting", "Online training is hard: catastrophic forgetting", "Ram #11, #12"),
    Entry("C7", "sat", "Deep nets cannot simply solve logic problems", "Ram #15"),
    Entry("C8", "tabular", "High-dimensional tabular features: forests do better", "Ram #16; Zhihu"),
    Entry("C9", "hyperparameters", "Tuning is alchemy", "Ram #17; Zhihu"),
    Entry("C10", "overconfidence", "High confidence is not correctness", "Zhihu"),
)

NO_REASON = "CLAIMS.md lists it without a reason"
NOT_TURNED_INTO_EXPERIMENTS = (  # (what, source, why)
    ("Key influencers in senate votes", "Ram #7", "no data set here"),
    ("Off-screen entities", "Ram #9–10", NO_REASON),
    ("Interpretability", "Ram #13", NO_REASON),
    ("Word-embedding bias audits", "Ram #14", NO_REASON),
    ("The bandwidth limits of large-scale backpropagation", "Zhihu",
     NO_REASON),
)
