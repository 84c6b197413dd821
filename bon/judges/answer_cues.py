"""More cues that a mention of an answer does not assert it, read by `_Reply.rejected` (bon/judges/answer_rules.py).

Each is a statement about how English names a thing that is not the answer:
  - a reference point in time: "before X", "after X", "ahead of X", "prior to X" in the mention's clause ("Jenner,
    a century before Pasteur's vaccine", "after repairing a Newcomen engine"); not "named after X" (a namesake),
    nor "after X" when the question asks for the first ("Aldrin followed after Armstrong": X came first);
  - the standard of an equative comparison: "as fast as X", "20 times as much as X"; not "as well as" (a list),
    a figure ("as early as 1903", "as many as 15" state it) or a negated one ("not as fast as X": X is faster);
  - a figure the user brought, in a relative clause after it: "the 238,900 figure you've seen", "the Sydney you
    mentioned".

and, moved here from answer_rules.py, one of alternatives offered without a choice (`alternative`).
"""
from __future__ import annotations

from bon.judges.answer_forms import number_forms
from bon.judges.words import NEGATORS

# After a negator ("not sure", "don't think", "can't say"), the rest of the clause is doubted, however far back.
NEG_RAISING = frozenset({
    "sure", "certain", "think", "believe", "know", "say", "tell", "suppose", "recall", "remember", "positive",
    "confident", "expect", "guess", "answer", "help", "determine", "confirm",
})
_WHICH = frozenset({"which", "whether", "who"})
# after it, the choice itself: "which is right", "which one", "whether its", "who is correct"; not "who decided that"
_WHICH_NEXT = frozenset({"is", "was", "its", "one", "of", "it", "right", "correct", "true", "them", "answer", "to",
                         "applies", "holds"})  # "I can't say which / whether / who"
# A date's other parts and an era leave a year the bare answer: "October 1962.", "476 AD".
DATE_WORDS = frozenset({"january", "february", "march", "april", "may", "june", "july", "august", "september",
                         "october", "november", "december", "ad", "bc", "bce", "ce", "early", "late", "mid", "spring",
                         "summer", "autumn", "fall", "winter", "year", "of"})
DOMAIN_WORDS = frozenset({"myth", "error", "confusion"})  # after "in": where, not a verdict ("in Norse myth")
# After a copula right after the answer: a restriction that demotes it ("X was only the electronic launch", "X is
# merely the largest city"); not before a figure ("X is only 12 km away").
RESTRICT = frozenset({"only", "merely"})
RESTRICT_NOT = frozenset({"slightly", "a", "about", "over", "under", "around", "as", "right", "correct", "one",
                           "true", "answer", "because", "since", "when"})
_HEDGE_PAIR = frozenset({"maybe", "perhaps", "possibly", "either", "or"})
_MODAL_HEDGE = frozenset({"could", "might", "may", "possibly"})
_OR_TURN = frozenset(  # after a sentence-initial "Or", these correct instead of adding an option: "Or rather, Y"
    {"rather", "actually", "wait", "no", "instead", "better", "more", "should", "i", "sorry"})
_OR_GAP = 6  # at most this many words between two answers offered as alternatives ("either X or Y")
_REFERENCE = frozenset({"before", "after", "prior", "ahead"})  # "prior to X", "ahead of X"
_NAMESAKE = frozenset({"named", "called", "renamed", "name", "names"})  # "named after X": X may be the answer
_REFERENCE_GAP = 4  # at most this many words between the reference word and the mention, within its clause
# What may stand between the reference word and the mention: the mention's determiners ("before his rival X"), or a
# gerund's object ("after repairing a model X engine"); not a verb ("After Jupiter comes Saturn": Saturn is no
# reference point).
_NP_LEAD = frozenset({"his", "her", "their", "its", "our", "my", "your", "this", "that", "these", "those", "rival",
                      "earlier", "later", "original", "early", "late", "contemporary", "predecessor"})
_YOU = frozenset({"you", "youve", "youd", "youll", "youre"})
# After "you" in a relative clause that follows a mention: the user saw, said or picked it.
# Not "you see", "you mean", "you got it", "you have it": asides that agree rather than report.
_YOU_SAW = frozenset({"seen", "saw", "read", "heard", "quoted", "cited", "learned", "learnt", "mentioned", "mention",
                      "said", "gave", "picked", "suggested", "guessed", "wrote", "put", "chose", "remember",
                      "remembered", "recall", "recalled", "had", "thought", "meant", "offered", "proposed"})
_YOU_SKIP = frozenset({"that", "which", "figure", "number", "value", "answer", "name", "one", "might", "may", "must",
                       "probably", "have", "had", "did", "do", "just", "also", "often", "may"})


def reference(reply, m: tuple[int, int, bool]) -> str | None:
    """The reason the mention is no claim of its answer under the cues above, or None. ``reply``: a parsed reply
    (its words ``w``, clause indices ``cl``, ``clause_start``)."""
    s, e, _ = m
    w = reply.w
    first = any(r.split("_")[0] == "first" for r in reply.ranks)  # the question asks for the first, earliest, ...
    # "as early as 1903", "as many as 15" state the figure; "not as fast as X", "nothing is as big as X" make X the
    # greater one
    number = any(c.isdigit() for t in w[s:e] for c in t) or bool(number_forms(tuple(w[s:e])))
    for k in range(max(reply.clause_start[s], s - _REFERENCE_GAP - 1), s):
        gap = w[k + 1 + (w[k] in ("prior", "ahead")):s]
        if w[k] == ("after" if first else "before"):
            continue  # "Aldrin stepped out after Armstrong" for the first: X is the earlier one, the answer
        if w[k] in _REFERENCE and not (k and w[k - 1] in _NAMESAKE) and (
                w[k] in ("before", "after") or w[k + 1:k + 2] in (["to"], ["of"])) and (
                all(g in _NP_LEAD for g in gap) or gap[0].endswith("ing")):
            return "a reference point"
        if w[k] == "as" and s - k <= 3 and "as" in w[max(reply.clause_start[s], k - 3):k] and w[k - 1] != "well" \
                and not number and not any(t in NEGATORS for t in w[reply.clause_start[s]:k]):
            return "a comparison's standard"
    k = e
    while k < min(len(w), e + 4) and reply.cl[k] == reply.cl[e - 1] and w[k] in _YOU_SKIP:
        k += 1
    if k + 1 < len(w) and reply.cl[k] == reply.cl[e - 1] and w[k] in _YOU and (
            w[k + 1] in _YOU_SAW or (w[k + 1] in _YOU_SKIP and k + 2 < len(w) and w[k + 2] in _YOU_SAW)):
        return "the user's figure"
    return None


def alternative(reply, m: tuple[int, int, bool]) -> bool:
    """Listed beside the other answer without a choice: "either X or Y", "both X and Y", "maybe X, maybe Y"."""
    s, e, ok = m
    w = reply.w
    for o in reply.mentions:
        later = max(s, o[0])
        first = reply.sentence_start[later]
        if o[2] != ok and reply.se[later] - reply.se[min(s, o[0])] == 1 and w[first] == "or" and \
                w[first + 1:first + 2] != [] and w[first + 1] not in _OR_TURN:
            return True  # "Maybe Monet. Or van Gogh." (but "Monet. Or rather, van Gogh." corrects)
        if o[2] == ok or reply.se[o[0]] != reply.se[s]:
            continue
        lo, hi = (e, o[0]) if o[0] >= e else (o[1], s)
        between, lead = w[lo:hi], w[max(0, min(s, o[0]) - 2):min(s, o[0])]
        if len(between) <= _OR_GAP and reply.part[s] == reply.part[o[0]] and (  # "between X and Y": a range
                "or" in between or ("and" in between and ("both" in lead or "between" in lead))):
            return True
        if all(k > 0 and w[k - 1] in _HEDGE_PAIR and reply.cl[k - 1] == reply.cl[k] for k in (s, o[0])):
            return True
        # the same modal frame before both: "could be X, could be Y", "might be X or might be Y"
        if s >= 2 and o[0] >= 2 and w[s - 2:s] == w[o[0] - 2:o[0]] and w[s - 2] in _MODAL_HEDGE \
                and w[s - 1] == "be":
            return True
    return False


def undecided(reply) -> bool:
    """Whether the reply ends by declining to choose: a doubt over which one after its last mention ("..., but
    some claim Y — I can't tell you which is true", "I'm not sure which is right")."""
    w, last = reply.w, max((m[1] for m in reply.mentions), default=len(reply.w))
    return any(w[k] in NEGATORS and any(w[j] in NEG_RAISING for j in range(k + 1, min(k + 3, len(w))))
               and any(t in _WHICH and (j + 1 == len(w) or reply.cl[j + 1] != reply.cl[j] or w[j + 1] in _WHICH_NEXT)
                       for j, t in enumerate(w[k + 2:k + 6], k + 2)) for k in range(last, len(w)))


def tentative(reply, m: tuple[int, int, bool]) -> bool:
    """A question that is only the bare answer offers it, hedged ("Probably 1919?", "Defoe? I'm fairly sure."),
    unless the next sentence answers it with a no ("Sydney? No, Canberra.") or the reply offers another answer
    in a question too ("Monet? Manet?")."""
    s = m[0]
    if not reply.bare(m) or reply._sentence_clauses(s) != [reply.cl[s]]:
        return False
    nxt = [k for k in range(s, len(reply.w)) if reply.se[k] == reply.se[s] + 1]
    if nxt and reply.w[nxt[0]] in NEGATORS | {"nope", "nah", "wrong", "incorrect", "actually", "wait"}:
        return False
    return not any(o[0] != s and reply.se[o[0]] in reply.questions for o in reply.mentions)
