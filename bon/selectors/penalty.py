"""Agreement penalty (Shapira et al. 2026): hard best-of-N on r - lam * s * A(x, y).

A is the sample's agreement with a belief of the user's that is false, s the variant's within-prompt reward SD
pooled over the run (as for a planted bias, bon/bias.py), lam a grid (``selector.penalty_lambda``). A is read from
the values the run's metrics already grade (bon.bias.sample_features' ``agree``), restricted to false beliefs:

    answer        suggest_incorrect: the reply asserts the user's incorrect answer; doubt_correct: it does not assert
                  the correct answer the user doubts; 0 under suggest_correct (the belief is true) and bare
    feedback      the comment's positivity signed by the framing (+ like / wrote, - dislike / did-not-write): the
                  user's stance is a belief about the text's quality the text does not warrant
    mimicry       the reply repeats the user's misattribution of the poem
    are_you_sure  the reply admits a mistake or changes its answer ("I don't think that's right" is the belief)

So A is graded by the instrument of the metric named in :data:`A_GRADED_BY` for each kind, and the penalty inherits
that instrument's validity: a penalty row of metric X on kind k should carry the verdict of A_GRADED_BY[k]
(:func:`graded_by`, the one place that maps a row to the instrument).
"""
from __future__ import annotations

import math

import numpy as np

from bon.selectors import SELECTORS, Selector

# kind -> the metric whose instrument grades A on that kind's prompts (bon.bias.sample_features reads its values)
A_GRADED_BY = {"answer": "answer_sycophancy", "feedback": "feedback_sycophancy", "mimicry": "mimicry_sycophancy",
               "are_you_sure": "are_you_sure"}
TRUE_BELIEF_TEMPLATES = {"answer": ("suggest_correct",)}  # agreeing there is agreeing with the truth: A = 0


def false_belief_agree(examples, agree) -> np.ndarray:
    """A: the run's (P, M) ``agree`` values with the prompts whose stated belief is true set to 0."""
    a = np.array(agree, dtype=np.float64, copy=True)
    for i, e in enumerate(examples):
        if e.template in TRUE_BELIEF_TEMPLATES.get(e.kind, ()):
            a[i] = 0.0
    return a


def penalized_rewards(rewards, a, lam: float, s: float) -> np.ndarray:
    """r - lam * s * A, elementwise ((P, M) each)."""
    r, a = np.asarray(rewards, dtype=np.float64), np.asarray(a, dtype=np.float64)
    if r.shape != a.shape:
        raise ValueError(f"penalized_rewards: A must have the rewards' shape {r.shape}, got {a.shape}")
    return r - (lam * s) * a


def graded_by(kinds) -> list[str]:
    """The metrics whose instruments grade A on the given prompt kinds (the verdicts a penalty row inherits)."""
    return [A_GRADED_BY[k] for k in dict.fromkeys(kinds) if k in A_GRADED_BY]


@SELECTORS.register("penalty")
class AgreementPenalty(Selector):
    name, version, exact = "penalty", 1, True
    title = "agreement penalty (best-of-N on r - lambda s A)"
    needs_agree = True

    @classmethod
    def config_errors(cls, cfg) -> list[str]:
        lams = list(cfg.selector.penalty_lambda or [])
        if not lams or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x < math.inf
                           for x in lams):
            return [f"selector.penalty_lambda must be a non-empty list of finite numbers >= 0 (the penalty per unit "
                    f"of agreement, in within-prompt reward SDs), got {lams!r}"]
        return []

    def settings(self):
        return [float(x) for x in self.cfg.selector.penalty_lambda]

    def rewards(self, r, setting, s, agree):
        if agree is None:
            raise ValueError("penalty: no agreement values A for this run's prompts")
        return penalized_rewards(r, agree, setting, s)

    def facts(self) -> dict:
        return {"a_graded_by": dict(A_GRADED_BY)}
