"""``judge.answer_grading``: its values, which answer items each sends to which instrument (the string rule,
bon/judges/answer_rules.py, for short answers; the reference grader, bon/judges/reference.py, for sentence answers; or
the LM judge), and which instrument checks a run then owes. The answer metric
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


def grading_checks(grading: str, run_bases=()) -> list[tuple[str, str]]:
    """Which answer checks a run owes: (result name, grading to check) pairs. Each instrument is checked on the items
    it grades: ``answer`` on the short-answer labels (bon/data/labelled/answer.jsonl), ``answer_sentence`` on the
    sentence-answer labels (answer_sentence.jsonl).

    - string: ``answer`` by the string rule; reference: ``answer_sentence`` by the reference grader;
    - judge: ``answer`` by the LM judge, and ``answer_sentence`` by it too when some selected item has a sentence answer;
    - auto: ``answer`` by the string rule, and ``answer_sentence`` by the reference grader when some selected item has
      a sentence answer (`needs_judge`).

    Args:
        grading: judge.answer_grading (string | judge | reference | auto).
        run_bases: the ``base`` dicts of the run's selected answer items.
    """
    sentences = any(needs_judge(b) for b in run_bases)
    if grading == "reference":
        return [("answer_sentence", "reference")]
    if grading == "string":
        return [("answer", "string")]
    first = "judge" if grading == "judge" else "string"
    return [("answer", first)] + ([("answer_sentence", resolve_grading(grading, {"dataset": SENTENCE_DATASETS[0]}))]
                                  if sentences else [])


def grading_counts(grading: str, bases) -> dict[str, int]:
    """How many of these answer items (their ``base`` dicts) each instrument grades: instrument -> count."""
    out: dict[str, int] = {}
    for b in bases:
        g = resolve_grading(grading, b)
        out[g] = out.get(g, 0) + 1
    return out
