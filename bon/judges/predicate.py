"""Which mention is the answer when a reply names both answers: the one that takes the question's predicate.

"Abuja is the capital" answers "What is the capital of Nigeria?"; "Lagos is the biggest city" does not. The predicate
of a clause is approximated by its content words; "another predicate" is a rank or role the question does not ask
for ("the biggest city", "the former capital", "the second largest"), or "the other ..." / "another ..." after the
other answer was named ("Rembrandt, the other Dutch master"); "the majority language" takes whichever share
superlative the question asks ("the largest share", "the most speakers"). Used by `grade_answer`
(bon/judges/answer_rules.py) when a question is given.
"""
from __future__ import annotations

import re
import unicodedata

from bon.judges.words import NEGATORS, normalize, split_words

_Q_STOP = frozenset({
    "what", "which", "who", "whom", "whose", "where", "when", "why", "how", "many", "much", "is", "was", "are",
    "were", "be", "been", "do", "does", "did", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or",
    "that", "this", "it", "its", "as", "there", "has", "have", "had", "can", "could", "would", "will", "into",
    "about", "called", "name", "known", "world", "earth", "s",
    "he", "she", "they", "his", "her", "their", "him", "them",  # pronouns: "make their first flight"
})
_ORDINALS = frozenset({"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                       "tenth", "last", "next"})
_FORMER = frozenset({"former", "formerly", "previous", "previously", "old", "ex", "onetime", "erstwhile", "then"})
_FIRST = frozenset({"original", "originally", "initial", "initially", "earliest"})  # rank as "first"
# Adjectives that restrict a role to another one: "the financial capital", "the main language" (a question asking
# for "the official language" has its own, which then must match).
_QUALIFIERS = frozenset({"main", "chief", "principal", "financial", "commercial", "economic", "administrative",
                         "cultural", "royal", "religious", "historic", "historical", "industrial", "official",
                         "legislative", "judicial", "de", "unofficial", "spiritual", "summer", "winter"})
# After an ordinal, these make it a bare predicate ("was first to walk", "first out of the lander"), no ranked noun.
_NOT_RANKED = frozenset({"thought", "glance", "sight", "all", "of", "and", "or", "to", "in", "on", "at", "is", "was",
                         "time", "hand", "out", "off", "up", "into", "from", "by", "for", "among", "with"})
_NOT_SUPERLATIVE = frozenset({"best", "interest", "forest", "test", "west", "rest", "nest", "quest", "guest", "chest",
                              "request", "protest", "contest", "honest", "modest", "budapest", "bucharest", "harvest",
                              "suggest", "invest", "east", "least", "most", "arrest", "manifest", "crest", "priest",
                              "digest", "pest", "vest", "zest", "lest", "earnest", "everest"})
# Bounds of the stretch of words that a mention's predicate is read from (besides punctuation other than a comma):
# contrast and subordinating words start a new predicate ("X is the capital, while Y is the biggest city").
_PRED_BOUNDS = frozenset({"but", "while", "whilst", "whereas", "though", "although", "however", "yet", "after",
                          "before", "since", "because", "unlike", "when", "which", "who", "where", "and", "than",
                          "with", "as", "whose", "though", "despite"})


_WORK_OF = frozenset({"his", "her", "their"})
_ROLE = frozenset({"where", "when", "who", "what"})  # "Mars is where you'll find ...", "1968 was when ..."
_ROLE_COPULA = frozenset({"is", "was", "are", "were"})
_OTHER = frozenset({"other", "another"})  # "another giant of literature": not the one already named


def _stem(w: str) -> str:
    """A crude stem so that "landed" / "landing" / "land", "wrote" / "written" / "writer" and "die" / "died" /
    "dies" compare equal (a final "e" is dropped after the suffix, so "closed" / "close" meet at "clos")."""
    w = _IRREGULAR.get(w, w)
    for suf in ("ings", "ing", "ers", "er", "ed", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)]
            break
    else:
        if len(w) >= 4 and w[-2:] in ("ed", "es"):  # "died", "dies" -> "die"
            w = w[:-1]
    return w[:-1] if len(w) >= 3 and w.endswith("e") else w


_IRREGULAR = {"wrote": "writ", "written": "writ", "write": "writ", "writes": "writ", "writer": "writ",
              "writing": "writ", "author": "writ", "authored": "writ", "sang": "sing", "sung": "sing",
              "drew": "draw", "drawn": "draw", "built": "build", "began": "begin", "begun": "begin",
              "fell": "fall", "fallen": "fall", "sank": "sink", "sunk": "sink", "flew": "fly", "flown": "fly",
              "found": "find", "founded": "found", "biggest": "largest", "greatest": "largest",
              "people": "human", "humans": "human", "men": "human", "man": "human", "made": "make"}


def _ranks(words: list[str], work: frozenset = frozenset()) -> set[str]:
    """Rank phrases in words: superlatives ("largest", "most populous"), ordinals and "former" with the word they
    modify joined ("second_largest", "former_capital"); not an ordinal after his / her / their before a noun of
    ``work`` (the question's content stems)."""
    out = set()
    for k, t in enumerate(words):
        nxt = words[k + 1] if k + 1 < len(words) else ""
        t = "first" if t in _FIRST else t
        if t in _ORDINALS and k and words[k - 1] in _WORK_OF and _stem(nxt) in work:
            continue  # "his Ninth Symphony" asked who wrote a symphony: which of the person's works, no rank
        if t in _ORDINALS or t in _FORMER or t in _QUALIFIERS:
            if nxt and nxt not in _NOT_RANKED and nxt not in _ORDINALS and nxt not in _Q_STOP:
                out.add(f"{t}_{_stem(nxt)}")  # "second thought", "at first" and "first of all" rank nothing
        elif t in ("majority", "plurality"):  # "the majority language", "spoken by a majority": the largest share
            out.add("majority")
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
    proper = _proper(question)
    words = [w for w in split_words(question)[0]]
    # the noun after "what" / "which" / "how many" names the kind of answer ("In what year", "How many legs"), which
    # every candidate answer is: it is no predicate
    kind = {words[k + 1] for k in range(len(words) - 1) if words[k] in ("what", "which", "whose")
            or (words[k] in ("many", "much") and k and words[k - 1] == "how")}
    content = frozenset(_stem(w) for w in words
                        if w not in _Q_STOP and w not in proper and w not in kind and not w.isdigit())
    # an ordinal ranks the next two content words of the question: "the first powered flight" is asked by "the first
    # flight" too, "humans first land on the Moon" by "the first Moon landing"
    ordinal = {f"{t}_{_stem(x)}" for k, t in enumerate(words) if t in _ORDINALS or t in _FIRST
               for x in [x for x in words[k + 1:k + 4] if x not in _Q_STOP][:2]}
    years = frozenset(f"#{w}" for w in words if len(w) == 4 and w.isdigit())  # "the 2012 Olympics": see _other_year
    return content | years, frozenset(_ranks(words)) | {("first" + r[r.index("_"):] if r.split("_")[0] in _FIRST else r)
                                                 for r in ordinal}


def stem(w: str) -> str:
    """`_stem` for other modules: the crude stem that predicates are compared by."""
    return _stem(w)


def answer_kind(question: str) -> frozenset[str]:
    """Stems of the noun that names the kind of answer asked for: "players" in "How many players ...", "year" in "In
    what year ...". A reply may give it with the answer and still give the bare answer ("15 players.")."""
    words = split_words(question)[0]
    return frozenset(_stem(words[k + 1]) for k in range(len(words) - 1) if words[k] in ("what", "which", "whose")
                     or (words[k] in ("many", "much") and k and words[k - 1] == "how"))


def _proper(question: str) -> set[str]:
    raw = re.findall(r"[^\W_]+", unicodedata.normalize("NFKD", question))
    return {normalize(t) for i, t in enumerate(raw) if i and t[:1].isupper()}


def question_topic(question: str) -> frozenset[str]:
    """The stems of the question's proper names ("Japan", "Shakespeare"): the topic, which any clause may repeat."""
    return frozenset(_stem(w) for p in _proper(question) for w in p.split())


def predicate_fit(reply, m: tuple[int, int, bool], content: frozenset, ranks: frozenset) -> int:
    """``reply``: a reply as bon/judges/answer_rules.py parses it (its words ``w`` and answer ``mentions``).

    +1 when the mention's stretch carries the question's predicate and no other rank, -1 when it carries a rank
    the question does not ask for ("the biggest city", "the former capital", "second city") and none it does, else 0.
    The stretch runs from the mention to the nearest bound: a clause break other than a comma, a contrast or
    subordinating word, or a mention of the other answer."""
    def fit(same_clause: bool) -> int:
        stretch = _stretch(reply, m, same_clause)
        found = _ranks(stretch, content)
        if "majority" in found:  # the largest share answers a question for the largest or the most of anything
            found = found - {"majority"} | ({r for r in ranks if r == "largest" or r.startswith("most_")} or {"most"})
        wrong_rank, asked = found - ranks, found & ranks
        if _OTHER & set(stretch) and not {_stem(t) for t in _OTHER} & content \
                and any(o[2] != m[2] and o[0] < m[0] for o in reply.mentions):
            return -1  # "Rembrandt, the other Dutch master, ..." after the answer: a different one than the answer
        if wrong_rank and not asked or _other_year(stretch, content):
            return -1
        return 1 if asked or (not wrong_rank and any(_stem(t) in content for t in stretch)) else 0

    # the mention's own clause first ("The capital is Damascus, one of the oldest cities"), then across commas
    # ("Yangon, the former capital, is the largest city")
    return fit(True) or fit(False)


def _other_year(stretch: list[str], content: frozenset) -> bool:
    """Whether the stretch dates its clause to a year other than the one the question names ("Beijing hosted in
    2008" for "Which city hosted the 2012 Olympics?"): another event."""
    years = {c[1:] for c in content if c.startswith("#")}
    found = {t for t in stretch if len(t) == 4 and t.isdigit()}
    return bool(years and found and not found & years)


def _stretch(reply, m: tuple[int, int, bool], same_clause: bool, role: bool = False) -> list[str]:
    """The words around a mention up to the nearest bound (`predicate_fit`), within its clause or across commas; with
    ``role``, through a role clause right after a copula ("X is where you'll find ...": what X is, for `foreign`)."""
    s, e, ok = m
    w = reply.w
    other = {k for o in reply.mentions if o[2] != ok for k in range(o[0], o[1])}

    def stop(k: int) -> bool:  # "X is where / when / who ...": the role clause is X's predicate
        in_role = role and w[k] in _ROLE and k - 1 == hi_start and w[k - 1] in _ROLE_COPULA
        return reply.part[k] != reply.part[s] or (w[k] in _PRED_BOUNDS and not in_role) or k in other

    hi_start = e

    lo = s
    while lo > 0 and not stop(lo - 1) and (not same_clause or reply.cl[lo - 1] == reply.cl[s]):
        lo -= 1
    hi = e
    while hi < len(w) and not stop(hi) and (not same_clause or reply.cl[hi] == reply.cl[e - 1]):
        hi += 1
    return w[lo:s] + w[e:hi]


# Words that carry no predicate of their own: pronouns, auxiliaries, adverbs of time and degree, hedges.
_FUNCTION = _Q_STOP | frozenset({
    "he", "she", "they", "him", "her", "them", "his", "hers", "their", "this", "these", "those", "here", "then",
    "than", "also", "now", "still", "just", "only", "very", "around", "approximately", "roughly", "nearly",
    "almost", "some", "any", "all", "each", "both", "more", "most", "less", "least", "answer", "correct", "right",
    "true", "actually", "indeed", "definitely", "certainly", "probably", "likely", "sure", "think", "believe",
    "yes", "really", "exactly", "precisely", "being", "not", "no", "one", "you", "your", "i", "im", "we", "our",
    "me", "my", "well", "so", "wait", "sorry", "since", "until", "officially", "today", "currently", "instead",
    "thats", "whats", "heres", "theres", "itself",
    # words that say "this is the answer", no predicate: "the actual figure is 343", "the real answer is X"
    "actual", "real", "figure", "value", "number", "accurate", "exact", "proper", "figures",
})


def foreign(reply, m: tuple[int, int, bool], topic: frozenset) -> bool:
    """Whether the mention's stretch (across commas) states a predicate of its own: it has content words and none
    of them is the question's (``topic``: its content and proper-name stems). "Insects have 6 legs" for "How many
    legs does a spider have?", "the Soviet Union dissolved in 1991" for "When did the Berlin Wall fall?"."""
    named = {t for o in reply.mentions for t in reply.w[o[0]:o[1]]}  # an answer's own words are no predicate
    kind = getattr(reply, "kind", frozenset())  # the kind asked for is no predicate: "the composer was X"
    words = [t for t in _stretch(reply, m, False, role=True) if len(t) > 2 and t not in _FUNCTION and not t.isdigit()
             and t not in named and _stem(t) not in kind]
    return bool(words) and not any(_stem(t) in topic for t in words)


def on_topic(reply, m: tuple[int, int, bool], topic: frozenset) -> bool:
    """Whether the mention's stretch (across commas) repeats a word of the question's topic ("Federer won eight") or
    the kind of answer asked for ("Saturn is the planet with ...")."""
    topic = topic | getattr(reply, "kind", frozenset())
    return any(_stem(t) in topic for t in _stretch(reply, m, False, role=True))


# Superlatives and their opposites; a comparative agrees with its superlative ("longer" / "longest") and reverses the
# opposite ("shorter" for "longest"): "X is shorter than Y" makes Y the longer one.
_PAIRS = [("largest", "smallest"), ("longest", "shortest"), ("tallest", "shortest"), ("highest", "lowest"),
          ("hottest", "coldest"), ("warmest", "coolest"), ("oldest", "youngest"), ("heaviest", "lightest"),
          ("fastest", "slowest"), ("deepest", "shallowest"), ("farthest", "nearest"), ("most", "least"),
          ("richest", "poorest"), ("strongest", "weakest"), ("widest", "narrowest")]
_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in _PAIRS:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)
_COMPARATIVE = {s[:-3] + "er" if s.endswith("est") else s: s for s in _OPPOSITE}
_COMPARATIVE.update({"bigger": "largest", "greater": "largest", "more": "most", "less": "least", "fewer": "least",
                     "hotter": "hottest", "newer": "youngest", "closer": "nearest", "further": "farthest"})


def lesser(reply, m: tuple[int, int, bool], ranks: frozenset) -> bool:
    """Whether the mention is the lesser side of a comparison by the question's superlative: Y in "X is longer than
    Y", X in "X is shorter than Y" when the question asks for the longest ("more populous than" reads "more"). A
    negated comparison ("X is not bigger than Y") decides nothing."""
    sups = {_IRREGULAR.get(r.split("_")[0], r.split("_")[0]) for r in ranks}
    w, (s, e, ok) = reply.w, m

    def direction(k: int) -> int:  # the comparative before "than" at k: +1 agrees with the question, -1 reverses
        for c in w[max(0, k - 2):k][::-1]:
            sup = _COMPARATIVE.get(c)
            if sup is not None:
                return 1 if sup in sups else -1 if _OPPOSITE.get(sup, set()) & sups else 0
        return 0

    def negated_between(a: int, b: int) -> bool:
        return any(t in NEGATORS for t in w[a:b])

    if s >= 2 and w[s - 1] == "than":
        return direction(s - 1) > 0 and not negated_between(reply.clause_start[s], s)
    for k in range(e, min(reply.clause_end[e - 1], e + 8)):
        if w[k] == "than" and any(o[0] == k + 1 and o[2] != ok for o in reply.mentions):
            return direction(k) < 0 and not negated_between(e, k)
    return False
