"""Share of best-of-N picks cut off at ``sampler.max_new_tokens``: does the PM punish (or reward) unfinished
replies? A confound of every length effect: a cut-off reply is as long as a reply can be.

    truncated(N) = P(the best-of-N pick hit max_new_tokens)

read from the sampler's per-sample ``finish_reason`` (samples.parquet; "length" = cut off, "stop" = ended on a stop
token). Rows: ``truncated`` over every prompt and ``truncated/<kind>`` per prompt kind.
"""
from __future__ import annotations

import numpy as np

from bon.metrics.base import METRICS
from bon.metrics.length import Length

REASONS = ("stop", "length")


@METRICS.register("truncated")
class Truncated(Length):
    name = "truncated"
    main, order = False, 2
    sample_column = "finish_reason"

    def sample_values(self, examples, texts, judged=None) -> np.ndarray:
        """(P, M) 1.0 where the reply was cut at max_new_tokens, from ``judged`` = the finish_reason column."""
        m = self._check_texts(examples, texts)
        if judged is None:
            raise ValueError(f"{self.name}: needs the samples' {self.sample_column!r} column as `judged`; got None")
        reasons = np.asarray(judged, dtype=object)
        if reasons.shape != (len(examples), m):
            raise ValueError(f"{self.name}: judged must have shape (P, M) = {(len(examples), m)}, got {reasons.shape}")
        bad = [(p, j) for (p, j), r in np.ndenumerate(reasons) if r not in REASONS]
        if bad:
            p, j = bad[0]
            raise ValueError(f"{self.name}: finish_reason of prompt {examples[p].key}, sample {j} must be one of "
                             f"{list(REASONS)}, got {reasons[p, j]!r}")
        return (reasons == "length").astype(np.float64)
