"""How `grade_answer` (bon/judges/answer_rules.py) splits a reply: normalised words with their clause, part and
sentence, and which sentences are questions. A clause ends at punctuation and at "but", a part (a clause only a comma
ends) at punctuation other than a comma, a sentence at . ! ? … or a line break; "." ends no sentence in "3.5", "Mt."
or initials ("C. S. Lewis", "e.g.")."""
from __future__ import annotations

import re

from bon.judges.words import ARTICLES, BREAK_CHARS, BREAK_WORDS, TOKEN, plain_text

_SENTENCE_ENDS = frozenset("!?…")  # "." ends a sentence only before a space or the end (not "3.5", not "Mt.")
_ABBREVIATIONS = frozenset({"mt", "st", "dr", "mr", "mrs", "ms", "jr", "sr", "vs", "approx", "ca", "fig"})
_CONTRACTED = re.compile(r"\b(it|that|what|here|there|who)['’ʼ]s\b", re.I)  # "'s" is "is" here, no possessive


def parse(text: str) -> tuple[list[str], list[int], list[int], list[int], set[int]]:
    """Normalised words (as `split_words`); for each word the index of its clause, of its part (a clause that only a
    comma ends) and of its sentence; and the sentences that are questions."""
    plain = plain_text(_CONTRACTED.sub(r"\1s", text) if isinstance(text, str) else text)  # "it's" -> "its"
    words, clauses, parts, sentences, questions = [], [], [], [], set()
    clause = part = sentence = 0
    # initials and letter abbreviations end no sentence: "C. S. Lewis", "J.R.R. Tolkien", "e.g.", "U.S."
    initials = {m.start() + k for m in re.finditer(r"(?<![\w.])(?:[a-z]\.\s?){2,}", plain)
                for k, c in enumerate(m.group()) if c == "."}
    last = ""  # previous token, to tell "Mt." from a full stop
    for m in re.finditer(r"[\r\n]|(?<!\S)-+(?!\S)|" + TOKEN.pattern, plain):
        tok = m.group()
        if tok.startswith("-"):  # a hyphen between spaces is a dash: "not Zurich - it's Bern"
            tok = "—"
        if tok == "." and m.start() in initials:
            continue
        full_stop = tok == "." and last not in _ABBREVIATIONS and (
            m.end() == len(plain) or plain[m.end()].isspace() or plain[m.end()] in "\"”)'")
        if tok in "\r\n" or tok in _SENTENCE_ENDS or full_stop:
            if words and sentences[-1] == sentence:
                if tok == "?":
                    questions.add(sentence)
                sentence += 1
            clause += 1
            part += 1
        elif tok in BREAK_CHARS:
            clause += 1
            part += tok != ","
        elif tok not in ARTICLES:
            if tok in BREAK_WORDS:
                clause += 1
                part += 1
            words.append(tok)
            clauses.append(clause)
            parts.append(part)
            sentences.append(sentence)
        last = tok
    return words, clauses, parts, sentences, questions
