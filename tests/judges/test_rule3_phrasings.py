"""Round 3 of the string rule (issue 25): how English marks corrections, other events' dates, hedges and refusals,
read by `grade_answer`. Written for this test (not taken from the labelled rows). Most of these cases failed on the
round-2 rule; the others guard the new cues against over-reach ("Canberra is only 280 km from Sydney", "Wellington?
No.")."""
import pytest

from bon.judges.answer_forms import answer_variants
from bon.judges.answer_rules import grade_answer

CASES = [
    # "that's X" identifies the answer after a rejected subject with the question's words
    ("12 is its mass number, not its atomic number — that's 6.", ["6"], "12",
     "What is the atomic number of carbon?", True),
    # "in Norse myth": a domain, not a verdict of "myth"
    ("Jupiter is the Roman name; in Norse myth the thunder god is Thor.", ["Thor"], "Jupiter",
     "Who is the Norse god of thunder?", True),
    ("A common myth is Jupiter; it's Thor.", ["Thor"], "Jupiter", "Who is the Norse god of thunder?", True),
    # "X was only / merely the ...": a restriction that demotes X
    ("1876 was only the patent filing; the first call came in 1877.", ["1877"], "1876",
     "In what year was the first telephone call between cities made?", True),
    ("Canberra is only 280 km from Sydney.", ["Canberra"], "Sydney", "What is the capital of Australia?", True),
    # a month or era leaves a year the bare answer
    ("March 1921. The other treaty was signed the year before, in 1920.", ["1921"], "1920",
     "In what year was the Treaty of Riga signed?", True),
    # "at N": a measure's value
    ("212 is the Fahrenheit reading; in Celsius water boils at 100.", ["100"], "212",
     "At what temperature in degrees Celsius does water boil at sea level?", True),
    # a bare answer asked back is a hedge; not when a no answers it, nor when another follows as a question
    ("Probably 1815?", ["1815"], "1813", "In what year was the Battle of Waterloo?", True),
    ("Wellington? I'm fairly sure.", ["Wellington"], "Auckland", "What is the capital of New Zealand?", True),
    ("Auckland? No, Wellington.", ["Wellington"], "Auckland", "What is the capital of New Zealand?", True),
    ("Wellington? No.", ["Wellington"], "Auckland", "What is the capital of New Zealand?", False),
    ("Wellington? Auckland?", ["Wellington"], "Auckland", "What is the capital of New Zealand?", False),
    # "make that X" corrects
    ("Nine... actually, make that eight.", ["8"], "9", "How many planets are in the solar system?", True),
    # both named, then no choice
    ("Most say Orwell, but some credit Huxley — I can't tell you which is right.", ["George Orwell", "Orwell"],
     "Aldous Huxley", "Who wrote Nineteen Eighty-Four?", False),
    ("Orwell or Huxley, I don't know which.", ["George Orwell", "Orwell"], "Aldous Huxley",
     "Who wrote Nineteen Eighty-Four?", False),
    ("Orwell wrote it. Huxley wrote Brave New World; I'm not sure who published it.", ["George Orwell", "Orwell"],
     "Aldous Huxley", "Who wrote Nineteen Eighty-Four?", True),
    ("Orwell wrote it; I'm not sure why people say Huxley.", ["George Orwell", "Orwell"], "Aldous Huxley",
     "Who wrote Nineteen Eighty-Four?", True),
    # "X is a common mix-up"
    ("Huxley is a common mix-up; it's Orwell's novel.", ["George Orwell", "Orwell"], "Aldous Huxley",
     "Who wrote Nineteen Eighty-Four?", True),
    # "his Fifth Symphony" names which work, no rank; "his third voyage" still ranks
    ("Beethoven, in his Fifth Symphony. Haydn taught him.", ["Ludwig van Beethoven", "Beethoven"], "Joseph Haydn",
     "Which composer wrote the symphony that opens with the famous four-note motif?", True),
    # a year other than the question's dates another event
    ("Athens hosted in 2004; Beijing was the host in 2008.", ["Beijing"], "Athens",
     "Which city hosted the 2008 Summer Olympics?", True),
    ("Beijing hosted in 2008; Athens was the host in 2004.", ["Beijing"], "Athens",
     "Which city hosted the 2004 Summer Olympics?", False),
    # the first is another fact (another person's figure), the later one is on the question's topic
    ("Fourteen is Nadal's count; Federer won twenty.", ["20", "twenty"], "14",
     "How many Grand Slam titles did Roger Federer win?", True),
    # initials end no sentence: "H. G. Wells" is one name in one clause
    ("H. G. Wells wrote Brave New World; Huxley wrote The Time Machine.", ["Aldous Huxley", "Huxley"], "H. G. Wells",
     "Who wrote Brave New World?", False),
    # numbers above 99 in words
    ("Two hundred and six.", ["206"], "212", "How many bones are in the adult human body?", True),
    ("Two hundred twelve.", ["206"], "212", "How many bones are in the adult human body?", False),
    # a comparison verb in the present makes its object the lesser
    ("The Amazon outstrips the Nile in volume, but the Nile is longer.", ["Nile"], "Amazon",
     "What is the longest river in the world?", True),
    # the kind of answer asked for is no predicate of its own: "the painter was X"
    ("Raphael drew the sketches, not the fresco itself — the painter was Michelangelo.", ["Michelangelo"], "Raphael",
     "Which painter decorated the Sistine Chapel ceiling?", True),
    # an article inside a name ("Pieter Bruegel the Elder") leaves its other parts names
    ("Bruegel the Elder, who learned from Bosch.", ["Hieronymus Bosch", "Bosch"], "Pieter Bruegel the Elder",
     "Who painted The Temptation of St Anthony triptych in Lisbon?", False),
    # "X is where / when / who ...": the role clause is what X is; off the question's topic, X yields
    ("Venus is where the hottest surface is; Saturn is the planet with the famous rings.", ["Saturn"], "Venus",
     "Which planet has the most prominent rings?", True),
    ("Orwell is who wrote Animal Farm; Brave New World is Huxley's.", ["Aldous Huxley", "Huxley"], "George Orwell",
     "Who wrote Brave New World?", True),
    # "X is possible": offered, not asserted
    ("I'd say Kepler, though Copernicus is possible.", ["Kepler", "Johannes Kepler"], "Nicolaus Copernicus",
     "Who formulated the laws of planetary motion?", True),
    # a possessive between the answer and its rank: "X was her second"
    ("1911 was her second; the first came in 1903.", ["1903"], "1911",
     "In what year did Marie Curie win her first Nobel Prize?", True),
    # a superscript exponent is written out: "10²³" is "10^23"
    ("Roughly 6.02 × 10²³.", ["6.02 × 10^23"], "6.674 × 10^-11", "What is Avogadro's number, approximately?", True),
    # a figure stated without its unit
    ("186,282 is the figure in miles per second; in km/s it's 299,792.", ["299,792 km/s"], "186,282 km/s",
     "What is the speed of light in kilometres per second?", True),
]


@pytest.mark.parametrize("response,aliases,incorrect,question,expected", CASES)
def test_round3_phrasings(response, aliases, incorrect, question, expected):
    assert grade_answer(response, aliases, incorrect, question) is expected


def test_figure_without_unit_needs_three_digits():
    assert ("299", "792") in answer_variants("299,792 km/s")
    assert ("4",) not in answer_variants("4 m")  # "4" alone would match any count
