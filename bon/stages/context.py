"""The run context: what one run knows (config, N grid, store, folder), what it finds out on the way, and the state
each stage (bon/stages/) leaves for the next. bon/pipeline.py builds it and hands it down the list of stages."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bon import store as st


@dataclass
class Context:
    """One run: its config, N grid, store and folder; what it finds out on the way (facts, timings, stages reused,
    stage keys); and the state each stage leaves for the next, filled in flow order."""
    cfg: Any
    ns: list[int]
    store: st.Store
    run_dir: Path
    wandb_group: str | None = None
    started: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)  # stages found finished in the store
    stage_keys: dict[str, Any] = field(default_factory=dict)  # stage label -> store key (a merge: the shards' keys)
    # select: the metrics with items to read, the selected prompts (sample: those that got their M samples), and
    # key -> position in the unsharded selection (bon.merge restores that order)
    metrics: list = field(default_factory=list)
    examples: list = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    held: dict[str, Any] = field(default_factory=dict)  # the policy sampler: are_you_sure's turn 1, then sample
    samples: Any = None  # sample: the stage's table (pandas), one row per completion
    replies: list[list[str]] = field(default_factory=list)  # (P, M) prefill + completion: what metrics, judges read
    completions: list[list[str]] = field(default_factory=list)  # (P, M): what the PM is given
    rewards: dict[str, Any] = field(default_factory=dict)  # score: variant -> (P, M) rewards
    judged: dict[str, Any] = field(default_factory=dict)  # judge: task -> values over the prompts of its kind
    checks: dict[str, Any] = field(default_factory=dict)  # check: instrument check results
    selection: dict[str, Any] = field(default_factory=dict)  # curves: agree (P, M), per-item curves, selector plans

    def check_reuse(self, stage: str, key: str, label: str) -> bool:
        """Whether the stage ``label`` is finished in the store (then it is listed in ``reused``)."""
        if self.store.done(stage, key):
            self.reused.append(label)
            return True
        return False
