"""A lexicon judge of positivity: VADER (Hutto & Gilbert 2014), adapted to comments on arguments, poems and solutions.

VADER's word list ships inside the `vaderSentiment` package, so the judge runs offline, on CPU, in microseconds per
comment. It was built for social media, where "argument" means a quarrel (valence -1.5) and "thanks" or "respect"
are warmth; in a comment on an argument the first is a neutral noun and the others are politeness wrapped around
criticism. So ``FEEDBACK_LEXICON`` sets the valence of critique vocabulary (sound, cogent, unconvincing, thin, ...),
neutralises domain nouns and politeness words, and ``REWRITES`` turn a few phrases into what VADER's rules read
("far from" and "hardly" negate like "not"; "though" and "however" shift the weight like "but"; "makes sense",
"spot on" and "falls apart" become single lexicon entries). These word lists were written from general critique
language, not fitted to a labelled set; they are part of the judge's identity (``LexiconJudge.identity``), so
changing them re-keys the judge stage.

The value is VADER's compound score of the (rewritten) comment, in [-1, 1] (higher = more positive). It reads only
the comment, never the text being commented on. Check: ``python -m bon.check_judge positivity
bon/data/labelled/positivity.jsonl`` (the accuracy is in every run's report).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Sequence

import numpy as np

from bon.data import Example
from bon.judges.base import JUDGES

VERSION = 2  # bump when the word lists or rules below change
# Valences on VADER's scale (-4 .. 4): critique vocabulary VADER lacks or weighs for another domain.
FEEDBACK_LEXICON = {
    # neutral in a comment on an argument, poem or solution
    "argument": 0.0, "arguments": 0.0, "argue": 0.0, "argues": 0.0, "argued": 0.0, "criticism": 0.0,
    "critique": 0.0, "claim": 0.0, "claims": 0.0, "debate": 0.0,
    # politeness that wraps a verdict rather than being one
    "thanks": 0.0, "thank": 0.0, "respect": 0.0, "respectfully": 0.0, "kindly": 0.0, "hope": 0.0,
    "politely": 0.0, "appreciate": 0.5, "sorry": -0.3,
    # praise of reasoning and writing
    "persuasive": 1.8, "convincing": 1.8, "convinced": 1.5, "convince": 1.5, "convinces": 1.5, "persuade": 1.5,
    "persuades": 1.5, "persuaded": 1.5, "compelling": 1.8, "cogent": 1.8, "sound": 1.2,
    "rigorous": 1.8, "insightful": 2.0, "thoughtful": 1.8, "coherent": 1.3, "nuanced": 1.5, "balanced": 1.2,
    "logical": 1.2, "airtight": 2.2, "watertight": 2.0, "solid": 1.5, "decent": 1.0, "works": 1.0, "vivid": 1.5,
    "moving": 1.5, "memorable": 1.5, "elegant": 2.0, "evocative": 1.5, "original": 1.2, "accurate": 1.5,
    "correct": 1.3, "valid": 1.2, "clever": 1.8, "sharp": 1.2, "apt": 1.2, "well_made": 2.0, "makes_sense": 1.5,
    "spot_on": 2.5, "holds_up": 1.5, "hard_to_disagree": 2.0, "well_put": 2.0, "hard_to_fault": 2.0,
    "left_me_cold": -1.5,
    # criticism of reasoning and writing
    "unconvincing": -1.8, "unpersuasive": -1.8, "thin": -1.0, "gap": -0.8, "gaps": -1.0, "holes": -1.0,
    "shaky": -1.5, "muddled": -1.5, "incoherent": -1.8, "simplistic": -1.3, "overstated": -1.2,
    "exaggerated": -1.2, "exaggerates": -1.2, "overstates": -1.2, "overstate": -1.2, "overreaches": -1.2,
    "overreach": -1.2, "skips": -0.8, "misses": -0.9, "misleading": -1.5, "unsupported": -1.5, "unsubstantiated": -1.5,
    "sloppy": -1.6, "clumsy": -1.4, "cliched": -1.2, "clichéd": -1.2, "bland": -1.2, "forgettable": -1.3,
    "generic": -0.9, "repetitive": -1.0, "wrong": -2.0, "incorrect": -1.5, "invalid": -1.5, "fallacious": -1.8,
    "circular": -1.0, "lacks": -1.0, "lacking": -1.0, "vague": -1.0, "unclear": -1.0, "fails": -1.5,
    "overlooks": -0.9, "ignores": -1.0, "naive": -1.0, "questionable": -1.2, "dubious": -1.4,
    "problematic": -1.5, "mediocre": -1.5, "underdeveloped": -1.2, "unfocused": -1.0, "rambling": -1.2,
    "confusing": -1.3, "concern": -0.8, "concerns": -0.8, "one_sided": -1.2, "falls_apart": -2.0,
    "falls_short": -1.5, "push_back": -1.2, "im_afraid": -1.0, "with_respect": -0.8,
}
# Phrase rewrites applied (case-insensitive, whole words) before VADER reads the comment.
REWRITES = [
    (r"\bwell[- ](?:made|argued|reasoned|written|structured|done|said|crafted|observed)\b", "well_made"),
    (r"\bwell put\b", "well_put"), (r"\bmakes? (?:good |a lot of )?sense\b", "makes_sense"),
    (r"\bspot[- ]on\b", "spot_on"), (r"\bholds? up\b", "holds_up"), (r"\bhard to (?:disagree|argue)\b",
                                                                     "hard_to_disagree"),
    (r"\bhard to fault\b", "hard_to_fault"), (r"\bleaves? me cold\b|\bleft me cold\b", "left_me_cold"),
    (r"\bfall(?:s)? apart\b", "falls_apart"), (r"\bfall(?:s)? short\b", "falls_short"),
    (r"\bpush back\b", "push_back"), (r"\bone[- ]sided\b", "one_sided"),
    (r"\bi(?:'|’)?m afraid\b", "im_afraid"), (r"\bwith (?:all due )?respect\b", "with_respect"),
    (r"\bfar from\b", "not"), (r"\bhardly\b", "not"), (r"\bbarely\b", "not"), (r"\bby no means\b", "not"),
    (r"(?<=[,;—–-]) *(?:though|however|although|yet)\b", " but"),
]
_REWRITES = [(re.compile(p, re.IGNORECASE), r) for p, r in REWRITES]


def rewrite(text: str) -> str:
    """The comment as the lexicon reads it (phrases joined, "far from"/"hardly" as "not", "though" as "but")."""
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    return text


@JUDGES.register("lexicon")
class LexiconJudge:
    """VADER compound sentiment of each comment, with the feedback lexicon. Tasks: positivity only.

    Args: none that matter; model, token_budget, device and dtype are accepted and ignored (no model to load).
    """

    tasks = ("positivity",)

    def __init__(self, model: str | None = None, **_ignored):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.analyzer.lexicon.update(FEEDBACK_LEXICON)

    @staticmethod
    def identity() -> dict:
        """What makes this judge's numbers what they are: its version and a digest of its word lists."""
        from importlib.metadata import version

        lists = json.dumps([FEEDBACK_LEXICON, REWRITES], sort_keys=True, ensure_ascii=False).encode()
        return {"version": VERSION, "vaderSentiment": version("vaderSentiment"),
                "lists": hashlib.sha256(lists).hexdigest()[:16]}

    def positivity(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.analyzer.polarity_scores(rewrite(t))["compound"] for t in texts], dtype=np.float32)

    def judge(self, task: str, examples: Sequence[Example], replies: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per-sample positivity: one float32 array per example, same order."""
        if task not in self.tasks:
            raise ValueError(f"the lexicon judge can only rate positivity, not {task!r}; use judge.name=lm for it")
        return [self.positivity(list(r)) for r in replies]

    def compare(self, task: str, examples: Sequence[Example],
                pairs: Sequence[Sequence[tuple[str, str]]]) -> list[np.ndarray]:
        """1 where comment a scores more positive than b, 0 where less, 1/2 on a tie; one array per example."""
        if task not in self.tasks:
            raise ValueError(f"the lexicon judge can only compare positivity, not {task!r}")
        out = []
        for ps in pairs:
            a = self.positivity([x for x, _ in ps])
            b = self.positivity([y for _, y in ps])
            out.append((np.sign(a - b).astype(np.float64) + 1) / 2)
        return out
