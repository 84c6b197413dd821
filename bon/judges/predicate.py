"""Which mention is the answer when a reply names both answers: the one that takes the question's predicate.

"Abuja is the capital" answers "What is the capital of Nigeria?"; "Lagos is the biggest city" does not. The predicate
of a clause is approximated by its content words; "another predicate" is a rank or role the question does not ask
for ("the biggest city", "the former capital", "the second largest"). Used by `grade_answer`
(bon/judges/answer_rules.py) when a question is given.
"""
from __future__ import annotations

import re
import unicodedata

from bon.judges.words import normalize, split_words

_Q_STOP = frozenset({
    "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "many", "much", "is", "was", "are",
    "were", "be", "been", "do", "does", "did", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or",
    "that", "this", "it", "its", "as", "there", "has", "have", "had", "can", "could", "would", "will", "into",
    "about", "called", "name", "known", "world", "earth", "s",
})
_ORDINALS = frozenset({"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                       "tenth", "last", "next"})
_FORMER = frozenset({"former", "formerly", "previous", "previously", "old", "ex", "original", "originally",
                     "onetime", "erstwhile", "then"})
# Adjectives that restrict a role to another one: "the financial capital", "the main language" (a question asking
# for "the official language" has its own, which then must match).
_QUALIFIERS = frozenset({"main", "chief", "principal", "financial", "commercial", "economic", "administrative",
                         "cultural", "royal", "religious", "historic", "historical", "industrial", "official",
                         "legislative", "judicial", "de", "unofficial", "spiritual", "summer", "winter"})
_NOT_RANKED = frozenset({"thought", "glance", "sight", "all", "of", "and", "or", "to", "in", "on", "at", "is", "was",
                         "time", "hand"})
_NOT_SUPERLATIVE = frozenset({"best", "interest", "forest", "test", "west", "rest", "nest", "quest", "guest", "chest",
                              "request", "protest", "contest", "honest", "modest", "budapest", "bucharest", "harvest",
                              "suggest", "invest", "east", "least", "most", "arrest", "manifest", "crest", "priest",
                              "digest", "pest", "vest", "zest", "lest", "earnest", "everest"})
# Bounds of the stretch of words that a mention's predicate is read from (besides punctuation other than a comma):
# contrast and subordinating words start a new predicate ("X is the capital, while Y is the biggest city").
_PRED_BOUNDS = frozenset({"but", "while", "whilst", "whereas", "though", "although", "however", "yet", "after",
                          "before", "since", "because", "unlike", "when", "which", "who", "where", "and", "than",
                          "with", "as", "whose", "though", "despite"})


def _stem(w: str) -> str:
    """A crude stem so that "landed" / "landing" / "land" and "wrote" / "written" / "writer" compare equal."""
    w = _IRREGULAR.get(w, w)
    for suf in ("ings", "ing", "ers", "er", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


_IRREGULAR = {"wrote": "writ", "written": "writ", "write": "writ", "writes": "writ", "writer": "writ",
              "writing": "writ", "author": "writ", "authored": "writ", "sang": "sing", "sung": "sing",
              "drew": "draw", "drawn": "draw", "built": "build", "began": "begin", "begun": "begin",
              "fell": "fall", "fallen": "fall", "sank": "sink", "sunk": "sink", "flew": "fly", "flown": "fly",
              "found": "find", "founded": "found", "biggest": "largest", "greatest": "largest",
              "people": "human", "humans": "human", "men": "human", "man": "human", "made": "make"}


def _ranks(words: list[str]) -> set[str]:
    """Rank phrases in words: superlatives ("largest", "most populous"), ordinals and "former" with the word they
    modify joined ("second_largest", "former_capital")."""
    out = set()
    for k, t in enumerate(words):
        nxt = words[k + 1] if k + 1 < len(words) else ""
        if t in _ORDINALS or t in _FORMER or t in _QUALIFIERS:
            if nxt and nxt not in _NOT_RANKED and nxt not in _ORDINALS and nxt not in _Q_STOP:
                out.add(f"{t}_{_stem(nxt)}")  # "second thought", "at first" and "first of all" rank nothing
        elif t in ("most", "least") and nxt:
            if k == 0 or words[k - 1] not in _ORDINALS:
                out.add(f"{t}_{nxt}")
        elif (t.endswith("est") and len(t) > 5 and t not in _NOT_SUPERLATIVE) or t in ("best", "worst"):
            if k == 0 or words[k - 1] not in _ORDINALS:
                out.add(_stem(t))
    return out


def question_predicate(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """The content stems of a question and its rank phrases, e.g. "What is the second largest planet?" ->
    ({"second", "largest", "planet"}, {"second_largest"}). Proper names (capitalised after the first word) are left
    out: they name the topic, which any clause of the reply may repeat, not the predicate."""
    raw = re.findall(r"[^\W_]+", unicodedata.normalize("NFKD", question))
    proper = {normalize(t) for i, t in enumerate(raw) if i and t[:1].isupper()}
    words = [w for w in split_words(question)[0]]
    content = frozenset(_stem(w) for w in words if w not in _Q_STOP and w not in proper and not w.isdigit())
    return content, frozenset(_ranks(words))


def predicate_fit(reply, m: tuple[int, int, bool], content: frozenset, ranks: frozenset) -> int:
    """``reply``: a reply as bon/judges/answer_rules.py parses it (its words ``w`` and answer ``mentions``).

    +1 when the mention's stretch carries the question's predicate and no other rank, -1 when it carries a rank
    the question does not ask for ("the biggest city", "the former capital", "second city") and none it does, else 0.
    The stretch runs from the mention to the nearest bound: a clause break other than a comma, a contrast or
    subordinating word, or a mention of the other answer."""
    s, e, ok = m
    w = reply.w
    other = [k for o in reply.mentions if o[2] != ok for k in range(o[0], o[1])]

    def stop(k: int) -> bool:
        return reply.part[k] != reply.part[s] or w[k] in _PRED_BOUNDS or k in other

    def fit(same_clause: bool) -> int:
        lo = s
        while lo > 0 and not stop(lo - 1) and (not same_clause or reply.cl[lo - 1] == reply.cl[s]):
            lo -= 1
        hi = e
        while hi < len(w) and not stop(hi) and (not same_clause or reply.cl[hi] == reply.cl[e - 1]):
            hi += 1
        stretch = w[lo:s] + w[e:hi]
        found = _ranks(stretch)
        wrong_rank, asked = found - ranks, found & ranks
        if wrong_rank and not asked:
            return -1
        return 1 if asked or (not wrong_rank and any(_stem(t) in content for t in stretch)) else 0

    # the mention's own clause first ("The capital is Damascus, one of the oldest cities"), then across commas
    # ("Yangon, the former capital, is the largest city")
    return fit(True) or fit(False)
