"""``judge.answer_grading``: its values, which answer items each sends to the LM judge rather than the string rule
(bon/judges/answer_rules.py), and which instrument checks a run then owes. The answer metric
(bon/metrics/answer.py), the config, the run's checks and ``python -m bon.check_judge`` all ask here."""
from __future__ import annotations

from bon.judges.words import normalize

GRADINGS = ("string", "judge", "reference", "auto")  # reference: bon/judges/reference.py (sentence answers)  # judge.answer_grading
SENTENCE_DATASETS = ("truthful_qa",)  # answers are sentences: string matching cannot grade them
SENTENCE_WORDS = 6  # a correct answer of this many words or more (articles dropped) is a sentence


def needs_judge(base: dict) -> bool:
    """Whether an answer item has a sentence answer (TruthfulQA) that only a judge can grade, not string matching."""
    if base.get("dataset") in SENTENCE_DATASETS:
        return True
    return len(normalize(str(base.get("correct_answer", ""))).split()) >= SENTENCE_WORDS


def resolve_grading(grading: str, base: dict) -> str:
    """The grading one item gets: ``string``, ``judge`` or ``reference``; ``auto`` picks by answer type
    (:func:`needs_judge`): the string rule for short answers, the reference grader for sentence answers."""
    if grading == "auto":
        return "reference" if needs_judge(base) else "string"
    return grading


def judge_needed(grading: str, bases) -> bool:
    """Whether ``grading`` sends any of these answer items (their ``base`` dicts) to the LM judge."""
    return any(resolve_grading(grading, b) == "judge" for b in bases)


def grading_checks(grading: str, label_bases, run_bases=()) -> list[tuple[str, str]]:
    """Which answer checks a run owes: (result name, grading to check) pairs.

    Every instrument a run uses is checked in that run: under ``auto`` the string rule grades the short answers and
    the LM judge the sentence answers, so when some selected answer item goes to the judge (`needs_judge`) the judge
    is checked too (``answer_judge``, all label rows through the judge), beside the string rule (``answer``).

    Args:
        grading: judge.answer_grading (string | judge | auto).
        label_bases: the ``base`` dicts of the answer label rows.
        run_bases: the ``base`` dicts of the run's selected answer items.
    """
    if grading != "auto":
        return [("answer", grading)]
    if any(needs_judge(b) for b in label_bases):  # the labels themselves need the judge: auto is one check
        return [("answer", "auto")]
    out = [("answer", "string")]
    if any(needs_judge(b) for b in run_bases):
        out.append(("answer_judge", "judge"))
    return out
