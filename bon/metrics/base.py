"""The metric registry and the plumbing every best-of-N sycophancy metric shares.

A metric works in two steps, so each reply is graded (or judged) once and every N is exact:

1. ``sample_values(examples, texts, judged) -> (P, M)``: one number per sampled reply (correct? positive? ...);
   ``texts[i][j]`` is the full reply (prefill + completion) to ``examples[i]``, ``judged`` the per-sample output of
   the LM-judge task named by ``metric.judge_task`` (None when the metric needs no judge), or the (P, M) column of the
   sampler's table named by ``metric.sample_column`` (length, truncated).
2. ``item_curves(examples, rewards, values, ns) -> {row: (len(ns), n_items)}``: for each N the exact expected value
   of the best-of-N pick (bon.estimator), one column per item. Items (all framings of one question or text) are the
   bootstrap unit downstream. The main row is named like the metric; extra rows are ``<quantity>/<template>``.
   ``metric.item_ids[row]`` names the item of each column: a row with one column per prompt (reward, length,
   gold) names each column by :func:`column_item`, so the templates of one item share a name and the bootstrap
   resamples them together (they are correlated; the item is the independent unit). Items lacking a needed
   framing are dropped, counted in ``metric.dropped_items`` and explained in ``metric.dropped``.

Both steps take only the prompts ``metric.select(examples)`` returns, in any order, and raise on others.

A metric names the instruments that grade its items (``instruments(examples)``), so the validity gate
(bon/judges/gate.py) can mark its rows INVALID when one of them fails its labelled check. A metric also carries what
it knows about the run config: ``config_kwargs(cfg)``, the constructor arguments the config
gives it (answer_sycophancy's grading is ``judge.answer_grading``), and ``config_errors(cfg)``, the problems with the
config values it owns, which ``bon.config.validate`` reports for every registered metric before any model loads.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from bon.data.sycophancy_eval import Example
from bon.registry import Registry

METRICS: Registry = Registry("metric", "bon.metrics")


def column_item(example: Example) -> str:
    """The independent item a prompt belongs to, as ``<kind>:<item_id>``: the name of its column in a per-prompt row
    (rows over every kind would otherwise merge an answer and a feedback item that share an item_id)."""
    return f"{example.kind}:{example.item_id}"


class Metric:
    """Shared checks and drop accounting; subclasses set the four attributes and the two methods."""

    name: str = ""
    kind: str | None = None  # Example.kind this metric reads; None = every prompt
    judge_task: str | None = None  # LM-judge task whose per-sample values sample_values needs
    sample_column: str | None = None  # samples.parquet column (n_tokens, finish_reason) passed as `judged` instead
    higher_is_more_sycophantic: bool | None = None  # None where it does not apply (reward)
    # How a report shows the main row (bon/report/titles.py reads these from the registry; nothing else lists them):
    title: str = ""  # panel title in curves.png; "" = made from the name ("win_rate" -> "Win rate")
    ylabel: str = ""  # what the number means, the panel's y label; "" = "mean <name>"
    main: bool = False  # a main result (drawn and tabled by default) or an extra (charted in W&B, drawn on request)
    order: int = 100  # place among the main (or the extra) metrics, lowest first; ties by name
    value_name: str | None = None  # what one per-sample value is, when not the metric's name (gold/<value_name>)
    beside: tuple[str, ...] = ()  # extra rows report.txt tables right after the main row's block

    @classmethod
    def config_kwargs(cls, cfg) -> dict:
        """Constructor arguments the run config gives this metric (none by default)."""
        return {}

    @classmethod
    def config_errors(cls, cfg) -> list[str]:
        """Problems with the config values this metric owns, one line each (none by default)."""
        return []

    def instruments(self, examples: Sequence[Example]) -> list:
        """The instruments that grade this metric's items among ``examples`` (bon.judges.gate.Instrument: the check
        that vouches for each, on labels of the same kind of item); the validity gate reads their verdicts. None by
        default: a metric read off rewards or token counts (reward, length, win_rate, truncated) has no instrument."""
        return []

    def __init__(self) -> None:
        self.dropped_items = 0
        self.dropped: list[str] = []  # "item_id: why", one per dropped item
        self.item_ids: dict[str, list[str]] = {}  # row -> item of each column (shared by its prompts)

    def applies(self, example: Example) -> bool:
        return self.kind is None or example.kind == self.kind

    def select(self, examples: Sequence[Example]) -> list[Example]:
        """The prompts this metric reads, in the given order."""
        return [e for e in examples if self.applies(e)]

    # ------------------------------------------------------------------ checks shared by the metrics

    def _check_examples(self, examples: Sequence[Example]) -> None:
        if len(examples) == 0:
            raise ValueError(f"{self.name}: no examples given; pass metric.select(examples) of a loaded dataset")
        for e in examples:
            if not isinstance(e, Example):
                raise ValueError(f"{self.name}: examples must be bon.data Example objects, got {type(e).__name__}")
            if not self.applies(e):
                raise ValueError(f"{self.name}: prompt {e.key} ({e.source or 'no source'}) is a {e.kind}/{e.dataset} "
                                 f"prompt this metric does not read; pass metric.select(examples)")

    def _check_texts(self, examples: Sequence[Example], texts) -> int:
        """Validate texts against examples; returns M, the samples per prompt."""
        self._check_examples(examples)
        if len(texts) != len(examples):
            raise ValueError(f"{self.name}: texts has {len(texts)} rows but there are {len(examples)} examples")
        m = len(texts[0])
        for e, row in zip(examples, texts):
            if len(row) != m or m == 0:
                raise ValueError(f"{self.name}: every prompt needs the same number M >= 1 of replies; "
                                 f"prompt {e.key} has {len(row)}, the first has {m}")
            for j, t in enumerate(row):
                if not isinstance(t, str):
                    raise ValueError(f"{self.name}: texts for prompt {e.key}, sample {j} must be a string, "
                                     f"got {type(t).__name__}")
        return m

    def _check_judged(self, judged, shape: tuple[int, ...]) -> np.ndarray:
        if judged is None:
            raise ValueError(f"{self.name}: needs the per-sample values of judge task {self.judge_task!r}; "
                             f"got judged=None")
        judged = np.asarray(judged, dtype=np.float64)
        if judged.shape != shape:
            raise ValueError(f"{self.name}: judged must have shape {'(P, M)' if len(shape) == 2 else '(P, M, M)'} = "
                             f"{shape}, got {judged.shape}")
        if not np.isfinite(judged).all():
            at = tuple(int(i) for i in np.argwhere(~np.isfinite(judged))[0])
            raise ValueError(f"{self.name}: judged must be finite, got {judged[at]} at (prompt, sample) {at[:2]}")
        return judged

    def _check_pool(self, examples: Sequence[Example], rewards, values) -> tuple[np.ndarray, np.ndarray]:
        """rewards and values as (P, M) float arrays matching examples (finiteness is checked by the estimator)."""
        self._check_examples(examples)
        rewards = np.asarray(rewards, dtype=np.float64)
        if rewards.ndim != 2 or rewards.shape[0] != len(examples):
            raise ValueError(f"{self.name}: rewards must have shape (P, M) with P = {len(examples)} examples, "
                             f"got {rewards.shape}")
        if values is None:
            raise ValueError(f"{self.name}: values is None; pass the (P, M) output of sample_values")
        values = np.asarray(values, dtype=np.float64)
        if values.shape != rewards.shape:
            raise ValueError(f"{self.name}: values must have the shape of rewards {rewards.shape}, got {values.shape}")
        return rewards, values

    def _group(self, examples: Sequence[Example]) -> dict[str, dict[str, int]]:
        """item_id -> template -> row index, items in order of first appearance; a repeated framing raises."""
        items: dict[str, dict[str, int]] = defaultdict(dict)
        for i, e in enumerate(examples):
            if e.template in items[e.item_id]:
                j = items[e.item_id][e.template]
                raise ValueError(f"{self.name}: prompt {e.key} appears twice (rows {j} and {i}); "
                                 f"each (item, template) must be one row")
            items[e.item_id][e.template] = i
        return dict(items)

    def _reset(self) -> None:
        self.dropped_items, self.dropped, self.item_ids = 0, [], {}

    def _drop(self, item_id: str, why: str) -> None:
        self.dropped_items += 1
        self.dropped.append(f"{item_id}: {why}")

    def _require_items(self, n_items: int) -> None:
        if n_items == 0:
            first = f"; first: {self.dropped[0]}" if self.dropped else ""
            raise ValueError(f"{self.name}: no complete item to score ({self.dropped_items} dropped{first})")
