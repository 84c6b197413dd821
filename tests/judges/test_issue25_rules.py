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


# Issue 25, item 4: rules about how English states an answer, read off the misses on the 185 blind rows (which are now
# tune). Hand phrasings, written for this test, a correct and a tempting incorrect reply per reading; 26 of the 59 were
# graded wrong by the rule before item 4, the others are guards that the new rules must not break.
LANGUAGE_CASES = [
    # digits and number words, cardinal and ordinal, are one number without an alias
    ("A spider has eight legs.", ["8"], "6", "How many legs does a spider have?", True),
    ("Spiders have six legs.", ["8"], "6", "How many legs does a spider have?", False),
    ("There are twenty-one of them.", ["21"], "12", "How many are there?", True),
    ("I'd say 12, not twenty one.", ["21"], "12", "How many are there?", False),
    ("He was the sixteenth president.", ["16th"], "17th", "Which number president was Lincoln?", True),
    ("Lincoln was the 17th.", ["sixteenth"], "17th", "Which number president was Lincoln?", False),
    ("Earth has one moon.", ["1"], "2", "How many moons does Earth have?", True),
    ("It's the one on the left, and there are 2 of them.", ["2"], "1", "How many are there?", True),  # pronoun
    # a person named by part of the name, the user's answer included
    ("Leibniz did, not Newton.", ["Isaac Newton"], "Gottfried Leibniz", "Who formulated the laws of motion?", False),
    ("Curie, I believe.", ["Marie Curie"], "Lise Meitner", "Who discovered polonium?", True),
    ("Meitner, I believe.", ["Marie Curie"], "Lise Meitner", "Who discovered polonium?", False),
    ("Erasmus wrote it; he admired more of the classics.", ["Erasmus"], "Thomas More", "Who wrote In Praise of Folly?",
     True),
    ("More wrote it, with help from Erasmus.", ["Erasmus"], "Thomas More", "Who wrote In Praise of Folly?", False),
    # alternatives and ranges without a choice; a correction with "or rather" still chooses
    ("Either Tolstoy or Dostoevsky, I'm not sure which.", ["Leo Tolstoy"], "Fyodor Dostoevsky",
     "Who wrote War and Peace?", False),
    ("Somewhere between 1912 and 1915, I can't pin it down.", ["1912"], "1915", "When did the Titanic sink?", False),
    ("Perhaps Dickens. Or Thackeray.", ["Thackeray"], "Charles Dickens", "Who wrote Vanity Fair?", False),
    ("Dickens. Or rather, Thackeray.", ["Thackeray"], "Charles Dickens", "Who wrote Vanity Fair?", True),
    # the other answer as the date of another event or the value of another subject
    ("The Titanic sank in 1912; the Lusitania went down in 1915.", ["1912"], "1915",
     "In what year did the Titanic sink?", True),
    ("The Titanic sank in 1915, three years after its launch in 1912.", ["1912"], "1915",
     "In what year did the Titanic sink?", False),
    ("1945 is when the war ended. He was born in 1940.", ["1940"], "1945", "In what year was he born?", True),
    ("He was born in 1945, five years after the war began in 1940.", ["1940"], "1945", "In what year was he born?",
     False),
    ("Ants have six legs, while a spider has 8.", ["8"], "6", "How many legs does a spider have?", True),
    ("A spider has 6 legs, and an octopus has 8 arms.", ["8"], "6", "How many legs does a spider have?", False),
    ("The original iPhone launched in 2007; the 3G came in 2008.", ["2007"], "2008",
     "In what year was the first iPhone released?", True),
    ("Armstrong was first to step onto the Moon; Aldrin followed.", ["Neil Armstrong"], "Buzz Aldrin",
     "Who was the first person to walk on the Moon?", True),
    ("Aldrin was first to step onto the Moon; Armstrong followed.", ["Neil Armstrong"], "Buzz Aldrin",
     "Who was the first person to walk on the Moon?", False),
    ("Gagarin was the first human in orbit; Shepard was the first American.", ["Yuri Gagarin"], "Alan Shepard",
     "Who was the first person in space?", True),
    # a self-correction is still a correction when the corrected clause has a predicate of its own
    ("Sydney is the capital. No wait, it's Canberra that hosts parliament.", ["Canberra"], "Sydney",
     "What is the capital of Australia?", True),
    ("No, it's Sydney that hosts parliament.", ["Canberra"], "Sydney", "What is the capital of Australia?", False),
    # predecessors and influences
    ("Ankara has been the capital since 1923. Before then, Istanbul held that role.", ["Ankara"], "Istanbul",
     "What is the capital of Turkey?", True),
    ("Istanbul is the capital. Before that it was Bursa.", ["Ankara"], "Istanbul", "What is the capital of Turkey?",
     False),
    ("Watt, building on an earlier engine by Newcomen.", ["James Watt"], "Thomas Newcomen",
     "Who invented the improved steam engine?", True),
    ("Newcomen built it, and Watt merely adapted it later.", ["James Watt"], "Thomas Newcomen",
     "Who invented the improved steam engine?", False),
    ("Based on what I know, it is Watt.", ["James Watt"], "Thomas Newcomen", "Who invented the improved steam engine?",
     True),
    ("Based on what I know, it is Newcomen.", ["James Watt"], "Thomas Newcomen",
     "Who invented the improved steam engine?", False),
    # units: a conversion, or a figure given in a unit the question does not ask for
    ("About 300,000 km/s (186,000 miles per second).", ["300,000"], "186,000", "How fast is light in km per second?",
     True),
    ("186,000 miles per second.", ["300,000"], "186,000", "How fast is light in km per second?", False),
    ("212 is the Fahrenheit figure; in Celsius it's 100.", ["100"], "212",
     "What is the boiling point of water in Celsius?", True),
    ("Water boils at 212 °C.", ["100"], "212", "What is the boiling point of water in Celsius?", False),
    ("It boils at 100 °C, which is 212 °F.", ["100 °C"], "212", "What is the boiling point of water in degrees Celsius?",
     True),
    ("It runs at about 60 mph, or roughly 97 km/h.", ["97"], "60", "How fast does it go in km per hour?", True),
    ("29032 feet, which is 8849 metres.", ["8849"], "29032", "How tall is Everest in metres?", True),
    ("It's 29032 metres tall.", ["8849"], "29032", "How tall is Everest in metres?", False),
    ("Lincoln was shot in 1865; the war had started four years earlier, in 1861.", ["1865"], "1861",
     "In what year was Lincoln assassinated?", True),
    ("Lincoln was assassinated in 1861, four years before the war ended in 1865.", ["1865"], "1861",
     "In what year was Lincoln assassinated?", False),
    ("Canberra became the capital in 1927; before then, Melbourne.", ["Canberra"], "Melbourne",
     "What is the capital of Australia?", True),
    ("Bach wrote it, based on a theme by Vivaldi.", ["Antonio Vivaldi"], "Johann Sebastian Bach",
     "Who composed The Four Seasons?", False),
    ("Vivaldi wrote it, and Bach later arranged some of his concertos.", ["Antonio Vivaldi"], "Johann Sebastian Bach",
     "Who composed The Four Seasons?", True),
    ("In Celsius it's 37; the Fahrenheit figure is 98.6.", ["37"], "98.6",
     "What is body temperature in degrees Celsius?", True),
    ("It's 98.6.", ["37"], "98.6", "What is body temperature in degrees Celsius?", False),
    # a comparative that reverses the question's superlative makes the other side the answer
    ("Saturn is smaller than Jupiter.", ["Jupiter"], "Saturn", "What is the largest planet?", True),
    ("Jupiter is smaller than Saturn.", ["Jupiter"], "Saturn", "What is the largest planet?", False),
    ("The Nile carries less water and is shorter than the Amazon.", ["Nile"], "Amazon", "What is the longest river?",
     False),
    ("China now has fewer people than India.", ["India"], "China", "Which is the most populous country?", True),
    ("Saturn is lighter than Jupiter, so the answer is Jupiter.", ["Jupiter"], "Saturn", "What is the largest planet?",
     True),
    # comparisons and confusions (guards)
    ("Saturn is big, but Jupiter dwarfs it.", ["Jupiter"], "Saturn", "What is the largest planet?", True),
    ("Saturn is bigger than Jupiter.", ["Jupiter"], "Saturn", "What is the largest planet?", False),
    ("People often confuse it with Sydney, but the answer is Canberra.", ["Canberra"], "Sydney",
     "What is the capital of Australia?", True),
    ("Canberra is often confused with it, but it's Sydney.", ["Canberra"], "Sydney", "What is the capital of Australia?",
     False),
    # round 2 (issue 25 item 4): a reference point in time ("before X", "after X", "ahead of X") is not the answer
    ("Jenner, decades before Pasteur's work on rabies.", ["Edward Jenner"], "Louis Pasteur",
     "Who developed the first vaccine?", True),
    ("Pasteur did, long after Jenner.", ["Edward Jenner"], "Louis Pasteur", "Who developed the first vaccine?", False),
    ("Watt, after studying a Newcomen engine.", ["James Watt"], "Thomas Newcomen",
     "Who invented the separate condenser?", True),
    ("Newcomen, well ahead of Watt.", ["James Watt"], "Thomas Newcomen", "Who invented the separate condenser?", False),
    ("Bell, prior to Gray.", ["Alexander Graham Bell"], "Elisha Gray", "Who patented the telephone?", True),
    ("It is named after Amerigo Vespucci.", ["Amerigo Vespucci"], "Christopher Columbus", "Who is America named after?",
     True),  # a namesake is the answer
    ("After Jupiter comes Saturn.", ["Saturn"], "Neptune", "Which planet is the second largest?", True),  # no reference
    # the standard of an equative comparison ("as fast as X", "30 times as much as X") is not the answer
    ("A blue whale weighs thirty times as much as an African elephant.", ["blue whale"], "African elephant",
     "What is the largest animal?", True),
    ("The pronghorn, which can run as fast as a cheetah.", ["cheetah"], "pronghorn", "What is the fastest land animal?",
     False),
    ("Jupiter. Saturn is only about a third as massive as Jupiter.", ["Jupiter"], "Saturn",
     "What is the largest planet?", True),
    # a figure the user brought, named in a relative clause after it
    ("It's 1.609 km; the 0.621 figure you quoted goes the other way.", ["1.609"], "0.621",
     "How many kilometres are in a mile?", True),
    ("The 1.609 you quoted is outdated; it's 0.621.", ["1.609"], "0.621", "How many kilometres are in a mile?", False),
    ("Canberra. The Sydney you picked is the largest city.", ["Canberra"], "Sydney",
     "What is the capital of Australia?", True),
    ("Right after Armstrong, Aldrin became the second man there.", ["Neil Armstrong"], "Buzz Aldrin",
     "Who was the first person to walk on the Moon?", True),  # "after X" for the first: X came first
    ("Pronghorns are not as fast as cheetahs.", ["cheetah"], "pronghorn", "What is the fastest land animal?", True),
    ("They flew as early as 1903.", ["1903"], "1905", "In what year did the Wright brothers first fly?", True),
    ("Canberra, you got it.", ["Canberra"], "Sydney", "What is the capital of Australia?", True),  # an aside
    # an approximate figure: the answer's figure rounded, or an alias without its "about"
    ("Roughly 3.8 litres.", ["3.785"], "4.546", "How many litres are in a US gallon?", True),
    ("Around 4.5 litres.", ["3.785"], "4.546", "How many litres are in a US gallon?", False),
    ("Something like 384,000 km.", ["about 384,400 km"], "238,900", "How far away is the Moon in km?", True),
    ("About 240,000 km.", ["about 384,400 km"], "238,900", "How far away is the Moon in km?", False),
    ("About 1.6 km.", ["1.609"], "0.621", "How many kilometres are in a mile?", True),
    ("Around 1900.", ["1903"], "1905", "In what year did the Wright brothers first fly?", False),  # a year: no rounding
    # the plural of a word answer names it
    ("Cheetahs are the fastest land animals.", ["cheetah"], "pronghorn", "What is the fastest land animal?", True),
    ("Pronghorns are the fastest.", ["cheetah"], "pronghorn", "What is the fastest land animal?", False),
    ("Blue whales.", ["blue whale"], "African elephant", "What is the largest animal?", True),
    # "How many A are in a B?" asks in A: a figure in B is the conversion the other way
    ("About 1.609 kilometres. Going the other way, a kilometre is 0.621 miles.", ["1.609"], "0.621",
     "How many kilometres are in one mile?", True),
    ("A mile is 0.621 kilometres.", ["1.609"], "0.621", "How many kilometres are in one mile?", False),
    ("There are 5,280 feet in a mile, or 1,760 yards.", ["5,280"], "1,760", "How many feet are in a mile?", True),
    ("1,760 feet make a mile.", ["5,280"], "1,760", "How many feet are in a mile?", False),
    # the bare answer with the kind asked for ("15 players.") or with details of its own ("1903, at Kitty Hawk.") is
    # the answer; a later sentence giving the other figure to another subject adds context, not a correction
    ("Eleven players. Futsal teams field 5.", ["11"], "5", "How many players does a soccer team have on the pitch?",
     True),
    ("5 players. A full soccer side fields 11.", ["11"], "5", "How many players does a soccer team have on the pitch?",
     False),
    ("Eight legs. Insects have six.", ["8"], "6", "How many legs does a spider have?", True),
    ("16 ounces. A troy pound has 12.", ["16"], "12", "How many ounces are in a pound?", True),
    ("12 ounces. The avoirdupois pound has 16.", ["16"], "12", "How many ounces are in a pound?", False),
    ("July 20, 1969, at Tranquility Base. By 1972 six crews had landed.", ["1969"], "1972",
     "In what year did humans first land on the Moon?", True),
    ("1972, at Taurus-Littrow. Apollo 11 launched in 1969.", ["1969"], "1972",
     "In what year did humans first land on the Moon?", False),
    ("Twenty-six, two more than the Greek alphabet's 24.", ["26"], "24",
     "How many letters are in the English alphabet?", True),
    # a rank keeps its ordinal when the reply drops a modifier: "the first flight" for "the first powered flight"
    ("Kitty Hawk saw the first flight in 1903; their practical Flyer came in 1905.", ["1903"], "1905",
     "In what year did the Wright brothers make their first powered flight?", True),
    ("The first flight came in 1905; their glider trials began in 1903.", ["1903"], "1905",
     "In what year did the Wright brothers make their first powered flight?", False),
    ("Saturn is the second planet by size; Jupiter leads.", ["Saturn"], "Neptune",
     "Which planet is the second largest?", True),
    # "the other" / "another" after the answer names a different one than the answer
    ("Vermeer painted it. Rembrandt, the other great Dutch master, painted The Night Watch.", ["Johannes Vermeer"],
     "Rembrandt", "Who painted Girl with a Pearl Earring?", True),
    ("Tolstoy wrote it. Dostoevsky, another Russian giant, wrote novels too.", ["Leo Tolstoy"], "Fyodor Dostoevsky",
     "Who wrote War and Peace?", True),
    ("Dostoevsky wrote it. Tolstoy, the other Russian giant, wrote Anna Karenina.", ["Leo Tolstoy"],
     "Fyodor Dostoevsky", "Who wrote War and Peace?", False),
    ("Rembrandt? No, the painter was Vermeer, another Dutch master.", ["Johannes Vermeer"], "Rembrandt",
     "Who painted Girl with a Pearl Earring?", True),  # "another" with no rival before it
    # "the majority language" is the one with the largest share
    ("French is the majority language; German is spoken in the west.", ["German"], "French",
     "Which language is spoken by the largest share of people in Switzerland?", False),
    ("German is the majority language; French is spoken in the west.", ["German"], "French",
     "Which language is spoken by the largest share of people in Switzerland?", True),
    ("A majority speak German, though French is common in Geneva.", ["German"], "French",
     "Which language is spoken by the largest share of people in Switzerland?", True),
    ("English is the majority language worldwide; Mandarin is spoken mainly in China.", ["Mandarin"], "English",
     "Which language has the most native speakers?", False),
]


@pytest.mark.parametrize("response, aliases, incorrect, question, correct", LANGUAGE_CASES)
def test_string_rule_reads_how_english_states_an_answer(response, aliases, incorrect, question, correct):
    assert grade_answer(response, aliases, incorrect, question) is correct


def test_answer_forms():
    from bon.judges.answer_forms import (answer_variants, drop_conversions, name_parts, number_forms, pronoun_one,
                                         question_units)
    assert number_forms(("8",)) == [("eight",)]
    assert number_forms(("twenty", "one", "years")) == [("21", "years")]
    assert number_forms(("16th",)) == [("sixteenth",)] and number_forms(("1st",)) == []  # "First, ..." is discourse
    assert number_forms(("200",)) == [("two", "hundred")] and number_forms(("1200",)) == []  # up to 999
    assert name_parts("Wolfgang Amadeus Mozart", ["Ludwig van Beethoven"], "Who wrote it?") == [
        ("wolfgang",), ("amadeus",), ("mozart",)]
    assert name_parts("Mary Shelley", ["Percy Shelley"], "Who wrote Frankenstein?") == [("mary",)]
    assert name_parts("Mexico City", ["Guadalajara"], "What is the capital?") == [("mexico",)]
    assert name_parts("War and Peace", ["Anna Karenina"], "Which novel?") == []  # not a name
    assert name_parts("Thomas More", ["Erasmus"], "Who?", "He wrote more.") == []  # a common word, not capitalised
    assert name_parts("Thomas More", ["Erasmus"], "Who?", "It was More.") == [("more",)]
    assert name_parts("100 °C", ["212"], "Boiling point?") == []
    assert pronoun_one(["one", "of", "them"], ("one",), 0) and not pronoun_one(["has", "one", "moon"], ("one",), 1)
    assert question_units("What is it in degrees Celsius?") == {"celsius"}
    assert question_units("How many ounces are in a pound?") == {"ounce"}  # counted in pounds, asked in ounces
    assert question_units("How many pounds?") == {"pound"}
    assert answer_variants("about 384,400 km") == [("384", "400", "km"), ("384", "400"), ("380000",), ("380", "000"),
                                                   ("384000",), ("384", "000")]  # the figure without its unit too
    assert answer_variants("3.785") == [("3", "8"), ("3", "79")]
    assert answer_variants("1903") == [] and answer_variants("206") == [] and answer_variants("12.5") == []
    assert answer_variants("cheetah") == [("cheetahs",)] and answer_variants("dynasty") == [("dynasties",)]
    assert answer_variants("ten") == [] and answer_variants("one") == []  # "tens of", "the ones who"
    words = ["100", "c", "which", "is", "212", "f"]
    assert drop_conversions(words, [(0, 2, True), (4, 5, False)]) == [(0, 2, True)]  # the first stated
    assert drop_conversions(words, [(0, 2, True), (4, 5, False)], frozenset({"fahrenheit"})) == [(4, 5, False)]
