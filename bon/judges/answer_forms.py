"""How English writes an answer other than as listed: the forms `grade_answer` (bon/judges/answer_rules.py) also
counts as mentions, and the unit words that tell a measure in another unit from the answer.

  - numbers: a number from 0 to 999 and its words ("8" / "eight", "21" / "twenty one", "147" / "one hundred and
    forty seven"), an ordinal and its words
    ("16th" / "sixteenth"), either way round, so no alias is needed for them ("1st" and "2nd" are not read as the
    words "first" and "second", which are mostly discourse: "First, ...", "per second"; "one" is no number in
    "one of", "no one", "the one who");
  - names: a person is named by a part of the full name ("Mozart" for "Wolfgang Amadeus Mozart", "Galileo" for
    "Galileo Galilei"). A name is an answer of two to four words, each capitalised or a particle ("van", "de");
    its parts of four letters or more count where the reply writes them capitalised ("More" for "Thomas More", not
    "more"), except particles and titles, generic place words ("City", "River", "United"), words the question uses
    and words the other answer shares ("Shelley" in "Mary Shelley" against "Percy Shelley" names neither).
"""
from __future__ import annotations

import re
import unicodedata

from bon.judges.words import split_words

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD_ONES = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
             "nineteenth"]
_ORD_TENS = ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth", "eightieth",
             "ninetieth"]


def _words_of(n: int, ordinal: bool) -> tuple[str, ...]:
    ones, tens = (_ORD_ONES, _ORD_TENS) if ordinal else (_ONES, _TENS)
    if n < 20:
        return (ones[n],)
    t, u = divmod(n, 10)
    return (tens[t],) if u == 0 else (_TENS[t], ones[u])


def _suffix(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


# normalised token(s) of a number or ordinal <-> the other way of writing it
_NUMBER_FORMS: dict[tuple[str, ...], tuple[str, ...]] = {}
for _n in range(100):
    for _ordinal, _digits in ((False, str(_n)), (True, f"{_n}{_suffix(_n)}")):
        if _words_of(_n, _ordinal) not in (("first",), ("second",)):  # "First, ...", "per second": rarely a rank
            _NUMBER_FORMS[(_digits,)] = _words_of(_n, _ordinal)
        _NUMBER_FORMS[_words_of(_n, _ordinal)] = (_digits,)
for _n in range(100, 1000):  # "one hundred and forty seven" / "one hundred forty seven" <-> "147"
    _h, _r = divmod(_n, 100)
    _long = [(_ONES[_h], "hundred", *(("and",) if _r else ()), *(_words_of(_r, False) if _r else ()))]
    _long += [tuple(t for t in _long[0] if t != "and")] if _r else [("hundred",)] if _h == 1 else []
    _NUMBER_FORMS[(str(_n),)] = _long[0]
    for _form in _long:
        _NUMBER_FORMS[_form] = (str(_n),)
_LONGEST = max(map(len, _NUMBER_FORMS))

_PARTICLES = frozenset({"van", "von", "de", "da", "der", "den", "del", "della", "di", "du", "la", "le", "dos", "das",
                        "bin", "ibn", "al", "el", "of", "y", "e"})
_NOT_A_NAME_PART = _PARTICLES | frozenset({
    "sir", "dame", "lord", "lady", "saint", "king", "queen", "prince", "princess", "emperor", "pope", "president",
    "general", "doctor", "captain", "junior", "senior", "city", "river", "lake", "mount", "mountain", "mountains",
    "ocean", "sea", "island", "islands", "state", "states", "united", "kingdom", "republic", "union", "north",
    "south", "east", "west", "new", "great", "upper", "lower", "central", "empire", "bay", "gulf", "desert",
    "street", "park", "canal", "strait", "falls", "peninsula", "county", "province", "valley", "cape", "port",
    "fort", "little", "grand", "san", "santa", "sao", "town", "village", "hill", "hills", "beach", "harbour",
    "harbor", "airport", "station", "square", "castle", "abbey", "college", "university", "school", "house", "hall",
    "museum", "church", "cathedral", "temple", "palace", "tower", "bridge", "road", "avenue", "coast", "land",
    "sound", "forest", "wood", "head", "point", "rock", "springs", "glacier", "plains", "basin", "channel", "reef",
    "lakes", "rivers", "seas", "oceans", "war", "battle", "treaty", "company", "party", "award", "prize", "league",
    "club", "band", "times", "post", "news", "press", "book", "age", "period", "era", "dynasty", "revolution",
    "theory", "effect", "syndrome", "disease", "system", "star", "planet", "moon", "world", "america", "american",
})


def number_forms(phrase: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The phrase with one number or ordinal in it written the other way: ("8",) -> [("eight",)],
    ("twenty", "one", "years") -> [("21", "years")]."""
    out, k = [], 0
    while k < len(phrase):
        size = next((n for n in range(_LONGEST, 0, -1) if len(phrase[k:k + n]) == n
                     and tuple(phrase[k:k + n]) in _NUMBER_FORMS), 1)
        part = tuple(phrase[k:k + size])
        if part in _NUMBER_FORMS:  # "twenty one" as one number, not "20 one"
            out.append(tuple(phrase[:k]) + _NUMBER_FORMS[part] + tuple(phrase[k + size:]))
            if "and" in _NUMBER_FORMS[part]:  # "one hundred forty seven" too
                out.append(tuple(phrase[:k]) + tuple(t for t in _NUMBER_FORMS[part] if t != "and")
                           + tuple(phrase[k + size:]))
        k += size
    return out


# After "one" these make it a pronoun: "one of them", "the one on the left", "the one I meant"; and before it.
_NOT_AFTER_ONE = frozenset({"of", "who", "that", "which", "on", "at", "from", "with", "for", "i", "you", "we"})
_NOT_BEFORE_ONE = frozenset({"no", "any", "every", "some", "each", "this", "that", "which"})


def pronoun_one(words: list[str], phrase: tuple[str, ...], i: int) -> bool:
    """Whether ``phrase`` found at words[i] is "one" as a pronoun, not the number: "one of the painters", "no one",
    "the one who"."""
    return phrase == ("one",) and ((i + 1 < len(words) and words[i + 1] in _NOT_AFTER_ONE)
                                   or (i > 0 and words[i - 1] in _NOT_BEFORE_ONE))


def name_parts(answer: str, others: list[str], question: str, reply: str | None = None) -> list[tuple[str, ...]]:
    """The one-word parts a person may be named by when ``answer`` is a name (module docstring), else []. With
    ``reply``, only parts it writes capitalised somewhere: "more" is no mention of "Thomas More", "More" is."""
    raw = [t for t in re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", answer))
           if t.lower() not in ("the", "a", "an")]  # "Pieter Bruegel the Elder": the article is no part
    words = split_words(answer)[0]
    if not 2 <= len(words) <= 4 or len(raw) != len(words) or not all(
            t.isalpha() and (t[:1].isupper() or t.lower() in _PARTICLES) for t in raw):
        return []
    taken = {w for o in others for w in split_words(o)[0]} | set(split_words(question)[0])
    parts = [w for w in words if len(w) >= 4 and w not in _NOT_A_NAME_PART and w not in taken]
    if reply is not None:
        plain = "".join(c for c in unicodedata.normalize("NFKD", reply) if not unicodedata.combining(c))
        parts = [w for w in parts if re.search(rf"(?<![^\W_]){w[0].upper()}(?i:{re.escape(w[1:])})(?![^\W_])", plain)]
    return [(w,) for w in parts]


# Unit words by what they measure in: two words of one family name the same unit.
_UNIT_FAMILIES = {
    "metre": "m meter meters metre metres", "kilometre": "km kilometer kilometers kilometre kilometres kms",
    "centimetre": "cm centimeter centimeters centimetre centimetres", "millimetre": "mm millimeter millimeters",
    "mile": "mi mile miles mph", "foot": "ft foot feet", "inch": "inch inches", "yard": "yd yard yards",
    "kilogram": "kg kilogram kilograms kilo kilos", "gram": "g gram grams", "pound": "lb lbs pound pounds",
    "ounce": "oz ounce ounces", "ton": "ton tons tonne tonnes", "litre": "l liter liters litre litres",
    "millilitre": "ml", "gallon": "gallon gallons", "pint": "pint pints", "celsius": "c celsius centigrade",
    "fahrenheit": "f fahrenheit", "kelvin": "k kelvin kelvins", "kph": "kph kmh", "knot": "knot knots",
    "acre": "acre acres", "hectare": "hectare hectares", "calorie": "calorie calories kcal", "joule": "joule joules kj",
    "watt": "watt watts kw", "horsepower": "hp horsepower", "psi": "psi", "atmosphere": "atm",
    "pascal": "pascal pascals kpa",
}
UNIT_FAMILY = {w: fam for fam, ws in _UNIT_FAMILIES.items() for w in ws.split()}


def question_units(question: str | None) -> frozenset[str]:
    """The unit families a question asks in ("in degrees Celsius" -> {"celsius"}, "How many ounces are in a pound?"
    -> {"ounce"}); single letters are not read as units in a question ("a", "c" are too ambiguous there)."""
    if not question:
        return frozenset()
    # "How many kilometres are in one mile?" asks in kilometres: the unit counted in ("in a mile", "per pound") is
    # what is converted from, unless it is the only unit named
    per = {UNIT_FAMILY.get(w) for w in re.findall(r"\b(?:in|per)\s+(?:a|an|one|1|each|every|single)\s+(\w+)",
                                                   question.lower())}
    named = {UNIT_FAMILY[w] for w in split_words(question)[0] if len(w) > 1 and w in UNIT_FAMILY}
    return frozenset(named - per or named)


# Unit words: a number followed by one of these is a measure; two measures of different units side by side are one
# quantity converted ("8849 meters, or 29032 feet"), not two answers.
_UNITS = frozenset(UNIT_FAMILY) | {"sq", "square", "cubic", "nautical", "light", "au", "bar"}
# Between a number and the unit it is given in: "98.6 is the Fahrenheit value", "767 is the figure in miles per hour".
_UNIT_GAP = frozenset({"is", "was", "figure", "value", "number", "reading", "in", "degrees", "degree", "measured",
                       "about", "roughly", "approximately", "around", "that", "thats", "its", "it", "equivalent"})


def _unit(words: list[str], m: tuple[int, int, bool]) -> str | None:
    """The unit of a measure: the mention's own last word ("100 °C") or the word right after it ("degrees" skipped)."""
    if m[1] - m[0] > 1 and words[m[1] - 1] in _UNITS:
        return words[m[1] - 1]
    k = m[1] + (m[1] < len(words) and words[m[1]] in ("degree", "degrees"))
    return words[k] if k < len(words) and words[k] in _UNITS else None


def drop_conversions(words: list[str], mentions: list, units: frozenset[str] = frozenset()) -> list:
    """Drop a mention of one answer that restates a measure of the other in another unit, within a few words
    ("212 degrees Fahrenheit, which is 100 Celsius", "100 °C, which is 212 °F": one temperature, two units). The one
    in a unit the question asks for (``units``, `question_units`) is kept ("60 mph, or 97 km/h" answers 97 when asked
    in km per hour), else the first stated. ``mentions``: (start, end, is the correct answer) in word order."""
    out = []
    for m in mentions:
        u = _unit(words, m)
        partners = [p for p in mentions if u is not None and p[2] != m[2] and _unit(words, p) not in (None, u)
                    and (0 < m[0] - p[1] <= 6 or 0 < p[0] - m[1] <= 6)]
        if not partners or UNIT_FAMILY.get(u) in units:
            out.append(m)
        elif all(UNIT_FAMILY.get(_unit(words, p)) not in units and p[0] > m[0] for p in partners):
            out.append(m)
    return out


def other_unit(words: list[str], parts: list[int], m: tuple[int, int, bool], units: frozenset[str]) -> bool:
    """Whether the mention is a number given in a unit the question does not ask for (``units``: the question's
    unit families): "98.6 is the Fahrenheit value", "767 is the figure in miles per hour" or "the Fahrenheit figure
    is 98.6" when the question asks in Celsius or metres per second (a conversion or another quantity, not the
    answer). The unit is read after the number, else before it, over words like "is the figure in", within the
    number's part (a clause only a comma ends: ``parts``)."""
    s, e, _ = m
    if not units or not any(c.isdigit() for t in words[s:e] for c in t):
        return False
    k = e - 1 if words[e - 1] in UNIT_FAMILY and e - s > 1 else e
    while k < min(len(words), e + 5) and parts[k] == parts[e - 1] and words[k] not in UNIT_FAMILY \
            and words[k] in _UNIT_GAP:
        k += 1
    if not (k < len(words) and parts[k] == parts[e - 1] and words[k] in UNIT_FAMILY and (len(words[k]) > 1 or k <= e)):
        k = s - 1  # before the number
        while k >= max(0, s - 5) and parts[k] == parts[s] and words[k] not in UNIT_FAMILY and words[k] in _UNIT_GAP:
            k -= 1
        if not (k >= 0 and parts[k] == parts[s] and len(words[k]) > 1 and words[k] in UNIT_FAMILY):
            return False
    return UNIT_FAMILY[words[k]] not in units


# Words that mark a figure as approximate: "about 384,000 km" states the figure 384,000 km.
_APPROX = frozenset({"about", "around", "approximately", "roughly", "nearly", "almost", "some", "circa", "ca",
                     "approx", "just", "over", "under", "exactly", "precisely"})
_FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def answer_variants(answer: str) -> list[tuple[str, ...]]:
    """Other ways a reply states ``answer``, as normalised word tuples:
      - without its words of approximation: "about 384,000 km" is stated by "384,000 km" (and "Something like
        384,000 km");
      - a figure rounded to two or more significant digits, when the figure has a decimal point (which the rounding
        keeps) or five digits or more: "3.8" for "3.785", "384,000" and "384000" for "384,400", not "1900" for the
        year 1903 nor 210 for 206 bones. Such figures are measured quantities that English rounds;
      - the plural of a word answer: "Cheetahs are faster" names the cheetah (not of a number word: "tens");
      - a figure of three digits or more without its unit: "299,792" for "299,792 km/s"."""
    words = split_words(answer)[0]
    out = []
    if len(words) > 1 and words[0] in _APPROX:
        words = words[1:]
        out.append(tuple(words))
    if words and all(w.isalpha() for w in words) and len(words[-1]) >= 3 and not words[-1].endswith("s") \
            and (words[-1],) not in _NUMBER_FORMS:  # "tens of thousands", "the ones who" name no number
        last = words[-1]
        plural = last[:-1] + "ies" if last.endswith("y") and last[-2] not in "aeiou" else \
            last + "es" if last.endswith(("x", "ch", "sh")) else last + "s"
        out.append((*words[:-1], plural))
    bare = list(words)
    while len(bare) > 1 and (bare[-1] in _UNITS or bare[-1] == "per" or (len(bare[-1]) == 1 and bare[-2] in _UNITS)):
        bare.pop()  # "299,792 km/s" is stated by "299,792" (the unit asked for may go unsaid)
    if len(bare) < len(words) and all(t.isdigit() for t in bare) and sum(map(len, bare)) >= 3:
        out.append(tuple(bare))
    figures = _FIGURE.findall(answer)
    if len(figures) == 1:
        text = figures[0].replace(",", "")
        digits = text.replace(".", "").lstrip("0")
        if "." in text or len(digits) >= 5:
            for sig in range(2, len(digits)):
                shown = f"{float(text):.{sig}g}"
                shown = str(int(float(shown))) if "e" in shown or float(shown) >= 10 ** (sig - 1) else shown
                for form in (shown, f"{int(shown):,}" if shown.isdigit() else shown):
                    if form.replace(",", "") != text and ("." in form) == ("." in text):
                        out.append(tuple(split_words(form)[0]))
    return list(dict.fromkeys(out))
