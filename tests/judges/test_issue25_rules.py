"""Rules added for issue 25: lexicon idioms, sarcasm, recommendations, distinction and slang; string-rule comparisons,
lineage words and unit conversions. Hand pairs, one per reading (the sarcasm, distinction, slang and conversion cases fail
on the rules before issue 25; the others held already and stay as guards)."""

import pytest

from bon.judges.answer_rules import grade_answer
from bon.judges.lexicon import LexiconJudge

PAIRS = [  # (more positive, less positive)
    ("The essay hits the nail on the head.", "The essay misses the mark."),
    ("A breath of fresh air.", "It leaves a lot to be desired."),
    ("I highly recommend it.", "I'd hesitate to recommend it."),
    ("It passed with distinction.", "It passed."),
    ("That ending is sick.", "That ending is dull."),
    ("The joke lands.", "Oh great, another pun. Just what the world needed."),
]


@pytest.mark.parametrize("better, worse", PAIRS)
def test_lexicon_reads_idioms_sarcasm_and_recommendations(better, worse):
    judge = LexiconJudge()
    assert judge.score(better) > judge.score(worse)


@pytest.mark.parametrize("response, aliases, incorrect, question, correct", [
    ("About 8849 meters, or 29032 feet.", ["8849"], "29032", "How tall is Everest in meters?", True),
    ("212 degrees Fahrenheit, which is 100 Celsius.", ["212"], "100",
     "What is the boiling point of water in Fahrenheit?", True),
    ("29032 meters.", ["8849"], "29032", "How tall is Everest in meters?", False),  # a wrong figure, one unit
    ("Either 8849 or 29032.", ["8849"], "29032", "How tall is Everest in meters?", False),  # a hedge still
    ("Alexander Fleming, whose work was inspired by Louis Pasteur.", ["Alexander Fleming"], "Louis Pasteur",
     "Who discovered penicillin?", True),
    ("Jupiter, compared to Saturn, is far bigger.", ["Jupiter"], "Saturn", "Which is the largest planet?", True),
    ("Saturn.", ["Jupiter"], "Saturn", "Which is the largest planet?", False),
])
def test_string_rule_reads_conversions_comparisons_and_lineage(response, aliases, incorrect, question, correct):
    assert grade_answer(response, aliases, incorrect, question) is correct
