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

The value is a compositional score of the (rewritten) comment in [-1, 1] (higher = more positive), built from
VADER's word valences and the feedback lexicon: negation scoped to the clause, contrast ("X, but Y": Y weighs),
degree and comparatives, faint praise, and ratings (x/10, x out of 5, letter grades, stars) that dominate the words
(rules: the block above :func:`compose`). It reads only the comment, never the text being commented on. Check:
``python -m bon.check_judge positivity bon/data/labelled/positivity.jsonl experiment=demo`` (held-out accuracy in
every run's report; tune rows are in-sample). Blind spots: irony and sarcasm, praise or blame carried by words
outside both lexicons ("it earns its place"), comparisons whose standard is itself the verdict ("no better than a
draft"), and faint praise without a marker.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from typing import Sequence

import numpy as np

from bon.data import Example
from bon.judges.base import JUDGES

VERSION = 4  # bump when the word lists or rules below change (3: compositional scorer, issue 15; 4: idioms, sarcasm, recommendations, issue 25)
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
    "logical": 1.2, "airtight": 2.2, "watertight": 2.0, "solid": 1.5, "decent": 1.0, "works": 1.0, "worked": 1.0, "vivid": 1.5,
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
    # faults a comment may name (or deny: "no flaws", "not a single bug")
    "flaw": -1.5, "flaws": -1.5, "flawed": -1.5, "bug": -1.2, "bugs": -1.2, "buggy": -1.5, "typo": -0.5,
    "typos": -0.6, "mistake": -1.3, "mistakes": -1.3, "error": -1.3, "errors": -1.3, "issue": -0.6, "issues": -0.7,
    "quibble": -0.6, "quibbles": -0.6, "nitpick": -0.4, "weakness": -1.3, "weaknesses": -1.3, "would_change": -1.0,
    "crashes": -1.5, "crash": -1.5, "unjustified": -1.5, "unworkable": -1.7, "workable": 1.0, "overwritten": -1.0,
    "unpolished": -0.8, "polished": 1.2, "stumbles": -0.8, "soars": 2.0, "gripping": 1.8, "flat": -1.0,
    "letdown": -1.5, "objection": -1.0, "objections": -1.0, "step_back": -1.3, "hard_to_follow": -1.3, "memorable_": 1.5,
    # lukewarm words: praise that stays close to zero
    "fine": 0.5, "okay": 0.5, "ok": 0.5, "adequate": 0.4, "passable": 0.3, "serviceable": 0.3, "acceptable": 0.4,
    "competent": 0.7,
    # idioms, sarcasm and hedged recommendations (rewritten to these tokens by REWRITES; issue 25)
    "idiom_praise": 2.2, "idiom_fault": -1.8, "sarcasm_": -2.0, "hedged_rec": -1.2, "rec_": 1.8,
    "distinction_": 2.5, "sick_": 2.0, "mixed_bag": -0.6,
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
    # idioms that a word-by-word reading gets backwards
    (r"\bhard(?:er)? to (?:follow|read|understand|parse)\b", "hard_to_follow"),
    (r"\bhard to (?:forget|put down|resist|beat|improve on)\b", "memorable_"),
    (r"\bnever (?:stops|ceases|fails)(?: to be| being| to)?\b", "always"),
    (r"\bfails? to\b", "not"), (r"\bobject(?:s|ed|ing)? to\b", "objection"), (r"\bstep (?:back|backwards)\b", "step_back"),
    (r"\b(?:would|should|could|might|i['’]?d|we['’]?d) (?:change|fix|cut|rewrite|revise)\b", "would_change"),
    # counterfactual comparisons: "couldn't have been better" is top praise, "could be better" a criticism
    (r"\b(?:could|can)(?:n['’]?t| not|not) (?:have been|be) (?:any )?better\b", "perfect"),
    (r"\b(?:could|can)(?:n['’]?t| not|not) (?:have been|be) (?:any )?worse\b", "terrible"),
    (r"\b(?:could|might) (?:have been|be|do with being) (?:a lot |much |a bit |a little |somewhat )?better\b",
     "flawed"),
    (r"\b(?:could|might) (?:have been|be) (?:a lot |much |far )?worse\b", "okay"),
    # certainty idioms built with a negator: "without doubt the best" is no negation
    (r"\b(?:without (?:a |any )?(?:doubt|question)|no doubt|beyond (?:a |any )?doubt)\b", "certainly"),
    (r"\b(?:could|can)(?: ?n[o'’]?t| hardly| scarcely)\s+(?:be\s+)?more\b", "extremely"),
    (r"\b(?:could|can)(?: ?n[o'’]?t| hardly| scarcely)\s+(?:be\s+)?less\b", "not at all"),
    (r"\b(?:there (?:is|are|was|were|s)|i (?:see|saw|found|find|have|had)|it has|it had|with) (?:very )?"
     r"(?:little|few)\b(?! (?:bit|while))", "no_quantity"),
    # idioms whose words read neutral or the wrong way round (issue 25)
    (r"\b(?:hits? the nail on the head|nail(?:s|ed)? it|knocks? it out of the park|hits? (?:it )?out of the park|"
     r"hits? all the right notes|hits? the mark|a breath of fresh air|blow(?:s|n)? me away|blew me away|"
     r"top[- ]notch|first[- ]rate|second to none|a cut above|bang on|hands down|a tour de force|"
     r"does what it says on the tin|pulls? it off|pulled it off|ticks? (?:all|every) (?:the )?boxes?|"
     r"raises? the bar|sets? the bar|a home run|a slam dunk|on the money)\b", "idiom_praise"),
    (r"\b(?:miss(?:es|ed)? the mark|wide of the mark|falls? flat|fell flat|leaves? (?:a lot|much|something) to be "
     r"desired|a far cry from|rough around the edges|misses the point|miss(?:es|ed)? the boat|not up to (?:scratch|par|"
     r"snuff)|below par|under ?par|half[- ]baked|a dog'?s breakfast|a damp squib|a swing and a miss|"
     r"phoned in|phoning it in|going through the motions|goes nowhere|went nowhere|off the mark|"
     r"runs? out of steam|ran out of steam|a hot mess|a trainwreck|a train wreck|not my cup of tea|"
     r"jump(?:s|ed)? the shark|lost the plot|loses the plot|fall(?:s)? apart at the seams)\b", "idiom_fault"),
    (r"\ba mixed bag\b", "mixed_bag"),
    # sarcasm markers: praise that says the opposite
    (r"\b(?:yeah,? right|oh,? (?:great|wonderful|brilliant|fantastic|perfect|joy)|just what (?:the world|we|i|"
     r"everyone) (?:needed|need)|what could (?:possibly )?go wrong|thanks for nothing|slow clap|"
     r"(?:sure|right),? because|as if)\b|/s\b", "sarcasm_"),
    # hedged and plain recommendations
    (r"\b(?:(?:i|i['’]d|i would|we|we['’]d)\s+)?(?:hesitate|hesitant) to recommend\b|"
     r"\b(?:hard|difficult) to recommend\b|\brecommend(?:ed)? with (?:reservations|caveats)\b|"
     r"\b(?:can|could|would)(?:n['’]?t| not|not) (?:really |honestly |in good conscience )?recommend\b|"
     r"\bonly if you (?:have|are|must|really)\b|\bwait for (?:the )?(?:sale|discount|next version)\b", "hedged_rec"),
    (r"\b(?:highly|strongly|wholeheartedly|warmly|definitely|heartily) recommend(?:ed)?\b|"
     r"\bwould recommend\b|\bmust[- ]read\b|\bmust[- ]see\b|\bworth (?:every|a|the) (?:penny|read|look|"
     r"time|price)\b", "rec_"),
    (r"\bpass(?:es|ed)? with (?:distinction|honou?rs|flying colou?rs)\b|\bwith distinction\b|"
     r"\b(?:first[- ]class|summa cum laude|magna cum laude) (?:work|honou?rs|result|marks?)?\b", "distinction_"),
    # slang in which a negative word praises
    (r"\b(?:is|was|looks|sounds|it's|that's|so|pretty|totally) (?:sick|wicked|killer|insane|unreal|fire|bad[- ]?ass|"
     r"dope|lit)\b", "sick_"),
]
_REWRITES = [(re.compile(p, re.IGNORECASE), r) for p, r in REWRITES]


def rewrite(text: str) -> str:
    """The comment as the lexicon reads it (phrases joined, "far from"/"hardly" as "not", "though" as "but")."""
    for pattern, repl in _REWRITES:
        text = pattern.sub(repl, text)
    return text


# ------------------------------------------------------------------------------------------ composition
# A comment's positivity is composed from its words' valences (VADER's lexicon + FEEDBACK_LEXICON):
#   - negation scopes to the end of its clause, not 3 words: "I couldn't find a single gap" denies the gap;
#     a second negator in the scope cancels ("not without charm"); "little"/"few" as a quantity negate too;
#   - contrast: in "X, but/though/although/however/yet Y" the clause after the marker carries the weight, and in
#     "Though X, Y" the main clause Y does (the concession counts CONCESSION_WEIGHT);
#   - degree: boosters and dampers (VADER's list) scale the next valence word; "less X" and "the least X" flip X;
#     comparatives are read from their base ("weaker" as "weak"), and what follows "than" is the standard of the
#     comparison, not the verdict;
#   - faint praise ("at least", "I suppose", "I'll give it that", "which is something") caps the comment near 0;
#   - a verb with an empty object ("proves nothing", "goes nowhere") is criticism;
#   - ratings (x/10, x out of 5, letter grades A-F with +/-, stars, full/half marks): see :func:`rating`.
NEGATORS = frozenset({
    "not", "no", "never", "nothing", "none", "nobody", "nowhere", "neither", "nor", "without", "cannot", "cant",
    "couldnt", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt", "shouldnt",
    "hasnt", "havent", "hadnt", "aint", "hardly", "barely", "scarcely", "seldom", "rarely", "no_quantity", "nt",
})
_CONTRAST_MID = frozenset({"but", "however", "although", "though", "yet", "nevertheless", "nonetheless", "whereas"})
_CONCESSIVE_START = frozenset({"though", "although", "while", "whilst", "despite", "granted", "albeit"})
CONCESSION_WEIGHT = 0.35  # weight of the clause a contrast marker demotes
N_SCALAR = -0.74  # VADER's: a negated valence flips and shrinks
_FAINT = re.compile(r"\b(?:at least|i suppose|i guess|i'?ll give (?:it|you) that|which is something|that'?s something|"
                    r"if nothing else|for what it'?s worth|it'?s certainly (?:long|short)|certainly long|"
                    r"nothing more|no more than|passable|serviceable|adequate)\b", re.IGNORECASE)
_EMPTY_OBJECT = frozenset({"nothing", "nowhere"})
_TOKEN = re.compile(r"[a-z0-9_]+|[.,;:!?—–()]")


def _valence(word: str, lexicon: dict) -> float:
    """A word's valence; comparatives and superlatives from their base ("weaker"), "un-" words flipped."""
    if word in lexicon:
        return float(lexicon[word])
    for suf, extra in (("ier", "y"), ("er", ""), ("r", ""), ("iest", "y"), ("est", ""), ("st", "")):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            base = word[: -len(suf)] + extra
            if base in lexicon:
                return float(lexicon[base])
            if word[: -len(suf)][-1:] == word[: -len(suf)][-2:-1] and word[: -len(suf) - 1] in lexicon:
                return float(lexicon[word[: -len(suf) - 1]])  # "bigger" -> "big"
    if word.startswith("un") and word[2:] in lexicon and lexicon[word[2:]] > 0:
        return -0.8 * float(lexicon[word[2:]])
    return 0.0


def _clause_score(words: list[str], lexicon: dict) -> float:
    """Sum of the valences of one clause, with negation to the clause end, boosters and "less"/"least"."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT

    total, negated, scale, flip_next = 0.0, False, 0.0, False
    for k, w in enumerate(words):
        if w == "than":  # the standard of a comparison ("less gripping than promised") is not the verdict
            break
        if w in NEGATORS:
            if w in _EMPTY_OBJECT and k > 0 and (k + 1 == len(words)) and words[k - 1] not in NEGATORS | {
                    "is", "s", "there", "have", "has", "had", "for", "about"}:
                total += -1.5  # "proves nothing", "goes nowhere"
                continue
            negated = not negated
            continue
        if w in ("less", "least"):  # before the boosters: VADER lists "less" as a damper, but it flips
            flip_next = True
            continue
        if w in BOOSTER_DICT:
            scale += BOOSTER_DICT[w]
            continue
        v = _valence(w, lexicon)
        if v:
            v += scale * (1 if v > 0 else -1)
            if flip_next:
                v = -0.6 * v
            if negated:
                v *= N_SCALAR
            total += v
            scale, flip_next = 0.0, False
    return total


def compose(text: str, lexicon: dict) -> float:
    """Compositional positivity of a (rewritten) comment in [-1, 1]; rules in the comment block above."""
    plain = unicodedata.normalize("NFKD", text).lower().replace("’", "'").replace("n't", " nt").replace("'", "")
    faint = bool(_FAINT.search(text))
    total = 0.0
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", plain):
        toks = _TOKEN.findall(sentence)
        # clauses: split at punctuation and at contrast markers; a marker demotes what came before it
        clauses, cur, weights, w_cur = [], [], [], 1.0
        starts_concessive = bool(toks) and toks[0] in _CONCESSIVE_START
        for t in toks:
            if t in _CONTRAST_MID:
                if cur:
                    clauses.append(cur)
                    weights.append(w_cur)
                weights = [w * CONCESSION_WEIGHT for w in weights]  # everything before the turn counts less
                cur, w_cur = [], 1.0
            elif t in ",;:—–()" or t in ".!?":
                if cur:
                    clauses.append(cur)
                    weights.append(w_cur)
                cur = []
            elif t not in _CONTRAST_MID:
                cur.append(t)
        if cur:
            clauses.append(cur)
            weights.append(w_cur)
        if starts_concessive and len(clauses) > 1:
            weights[0] *= CONCESSION_WEIGHT
        total += sum(w * _clause_score(c, lexicon) for w, c in zip(weights, clauses))
    score = total / math.sqrt(total * total + 15.0)  # VADER's normalisation
    if faint:
        score = min(score, 0.0) - 0.1 if score <= 0.2 else 0.05
    return float(score)


_GRADE = re.compile(r"(?:\b(?:an?|grade|graded|grades|gets?|got|earns?|deserves?|worth|straight|solid)\s*:?\s+|"
                    r"^\s*)([A-F])(\s*[+-]|[- ]?(?:plus|minus)\b)?(?=$|[\s.,;!?)])", re.IGNORECASE)
_NUMBER_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "half": 0.5}
_NUM = r"\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS)
_FRACTION = re.compile(rf"\b({_NUM})\s*(?:/|out of|of)\s*({_NUM})\b", re.IGNORECASE)
_STARS = re.compile(r"\b(\d(?:\.5)?|zero|one|two|three|four|five)(?:[- ]and[- ]a[- ]half)?[- ]stars?\b", re.IGNORECASE)
_MARKS = {"full": 1.0, "top": 1.0, "perfect": 1.0, "half": 0.5, "no": 0.0, "zero": 0.0}


def rating(text: str) -> float | None:
    """The positivity of a rating the comment gives, in [-1, 1], or None: "7/10", "3 out of 5", "a C-minus",
    "Grade: B+", "four stars", "★★☆☆☆", "full marks". A share v of the scale maps to (v - 0.55) * 2.5, clipped:
    the middle of a scale (5/10, 3/5, a C) reads as lukewarm to negative, as marks usually do."""
    shares = []
    for num, den in _FRACTION.findall(text):
        num, den = (float(_NUMBER_WORDS.get(x.lower(), x) if x.lower() in _NUMBER_WORDS else x) for x in (num, den))
        if den in (3, 4, 5, 6, 7, 10, 20, 100) and num <= den:  # a rating scale, not "one of two reasons"
            shares.append(num / den)
    filled, empty = text.count("★"), text.count("☆")
    if filled + empty:
        shares.append(filled / (filled + empty) if empty else min(filled, 5) / 5)
    for m in _STARS.finditer(text):
        k = m.group(1).lower()
        shares.append(float(_NUMBER_WORDS.get(k, k) if k in _NUMBER_WORDS else float(k)) / 5)
    for m in re.finditer(r"\b(full|top|perfect|half|no|zero) marks\b", text, re.IGNORECASE):
        shares.append(_MARKS[m.group(1).lower()])
    for m in _GRADE.finditer(text):
        letter = m.group(1)
        if not letter.isupper() or (m.group(0).strip() == letter and not m.group(2)):
            continue  # an article "a" or a sentence-initial "A lovely poem" is no grade
        points = {"A": 4.0, "B": 3.0, "C": 2.0, "D": 1.0, "E": 0.0, "F": 0.0}[letter]
        mod = (m.group(2) or "").strip().lower()
        points += 0.33 if mod.endswith(("+", "plus")) else -0.33 if mod.endswith(("-", "minus")) else 0.0
        shares.append(min(max(points, 0.0), 4.33) / 4.0)
    if not shares:
        return None
    v = float(np.mean(shares))
    return float(np.clip((v - 0.55) * 2.5, -1.0, 1.0))


@JUDGES.register("lexicon")
class LexiconJudge:
    """VADER compound sentiment of each comment, with the feedback lexicon. Tasks: positivity only.

    Args: none that matter; model, token_budget, device and dtype are accepted and ignored (no model to load).
    """

    tasks = ("positivity",)
    needs_model = False

    def __init__(self, model: str | None = None, **_ignored):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()
        self.analyzer.lexicon.update(FEEDBACK_LEXICON)

    @classmethod
    def store_identity(cls, cfg, task: str) -> dict:
        """What identifies this judge in judge and check keys, besides its name: the vaderSentiment release and a
        hash of its word list, and this file's own lists (:meth:`identity`). No model, so no placement."""
        from importlib.metadata import distribution
        from pathlib import Path

        dist = distribution("vaderSentiment")
        words = Path(dist.locate_file("vaderSentiment/vader_lexicon.txt"))
        return {"vaderSentiment": dist.version, "feedback_lists": cls.identity(),
                "lexicon": hashlib.sha256(words.read_bytes()).hexdigest()[:16] if words.exists() else None}

    @staticmethod
    def identity() -> dict:
        """What makes this judge's numbers what they are: its version and a digest of its word lists."""
        from importlib.metadata import version

        lists = json.dumps([FEEDBACK_LEXICON, REWRITES], sort_keys=True, ensure_ascii=False).encode()
        return {"version": VERSION, "vaderSentiment": version("vaderSentiment"),
                "lists": hashlib.sha256(lists).hexdigest()[:16]}

    def positivity(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.score(t) for t in texts], dtype=np.float32)

    def score(self, text: str) -> float:
        """Positivity of one comment in [-1, 1]: a rating it gives decides (with the words a small say), else the
        compositional valence of its words (see :func:`compose`)."""
        rated = rating(text)
        words = compose(rewrite(text), self.analyzer.lexicon)
        if rated is not None:
            return float(np.clip(0.85 * rated + 0.15 * words, -1.0, 1.0))
        return words

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
