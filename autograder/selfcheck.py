"""Self-check questions at the end of each lesson (student side): is an answer right, a hint if not, and why.

A lesson asks a question, the student writes an answer in a variable, and the next cell names the question:

    from autograder.selfcheck import check
    check("05.q3", answer_3)

The right answers, the explanations and the hints live in :mod:`autograder.selfcheck_answers`, so that the cell
under a question does not show its answer to a reader who has not tried yet. That is a courtesy, not a lock:
nothing here is graded, and opening that file only spoils the questions.

What a check does with an answer:

* it reads the usual ways of typing one: ``" b "``, ``"B)"`` or ``"(b)"`` for B; the text ``"True"`` or ``"yes"``
  for True; ``"0.25"``, ``"1/4"`` or ``"500,000"`` for a number; and says how to write it next time;
* a right answer gets the explanation; a wrong one gets the hint kept for that particular mistake, or the
  section to re-read;
* a second, different wrong answer also gets the right answer and the explanation; ``reveal("05.q3")`` shows
  them at any time.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from fractions import Fraction

# Letters of multiple-choice answers; anything else a question's answer is (a word, a number, True or False)
# says which kind of answer it expects.
LETTER = re.compile(r"[A-Z]")
TRUE_WORDS = {"true", "t", "yes", "y"}
FALSE_WORDS = {"false", "f", "no", "n"}


@dataclass(frozen=True)
class Question:
    """One self-check question's answer key.

    answer: the right answer: a capital letter ("B"), another word ("local"), a number, or True/False
    why: the explanation, shown with a right answer and when the answer is revealed
    hints: {wrong answer: why it is wrong}, for the mistakes students are likely to make
    tolerance: relative and absolute tolerance for numbers (0 asks for the exact value)
    see: where the lesson explains it, e.g. "section 2.3", named after a wrong answer that has no hint
    """

    answer: str | int | float | bool
    why: str
    hints: dict = field(default_factory=dict)
    tolerance: float = 1e-3
    see: str = ""

    @property
    def kind(self) -> str:
        """"bool", "number", "letter" or "word": what an answer to this question has to be."""
        return kind_of(self.answer)


@dataclass(frozen=True)
class Reading:
    """How a check understood what the student wrote.

    value: the answer in the question's own kind (None when it could not be read as one)
    note: how to write it next time, when it had to be interpreted ("" otherwise)
    problem: why it could not be read, when value is None
    """

    value: object = None
    note: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Verdict:
    """What a check concluded, and the text it prints."""

    status: str  # "right", "wrong", "unreadable" or "no answer"
    message: str
    revealed: bool = False  # whether the message gives away the right answer


def kind_of(value) -> str:
    """"bool", "number", "letter" or "word" for a value of an answer key."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Real):
        return "number"
    if isinstance(value, str):
        return "letter" if LETTER.fullmatch(value) else "word"
    raise TypeError(f"a self-check answer is a letter, a word, a number or a bool, not {value!r}")


def _unquoted(text: str) -> str:
    """``text`` without surrounding spaces and quotes (a student may type quotes inside the quotes)."""
    return text.strip().strip("\"'`").strip()


def _as_scalar(answer):
    """A NumPy scalar or one-element array as the plain Python value it holds; anything else unchanged."""
    if hasattr(answer, "item") and getattr(answer, "size", 1) == 1 and not isinstance(answer, (str, bytes)):
        try:
            return answer.item()
        except (TypeError, ValueError):
            return answer
    return answer


def parse_number(text: str) -> float | None:
    """A number written as text: "0.25", "-3", "1e23", "500,000", "$500 000", "1/4", "1.56 x 10^23", "92%".

    Returns None when ``text`` is not one of these.
    """
    text = _unquoted(text).lstrip("$").strip()
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    if re.fullmatch(r"[+-]?\d{1,3}([, ]\d{3})+(\.\d*)?", text):  # thousands separators
        text = re.sub(r"[, ]", "", text)
    power = re.fullmatch(r"([+-]?[\d.]+)\s*[x*×]\s*10\s*(?:\^|\*\*)\s*([+-]?\d+)", text)
    if power:
        text = f"{power.group(1)}e{power.group(2)}"
    try:
        value = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(value):
        return None
    return value / 100 if percent else value


def _plain_float(text: str) -> float | None:
    """``text`` as Python's float() reads it, None if it cannot."""
    try:
        return float(text)
    except ValueError:
        return None


def read_answer(answer, kind: str) -> Reading:
    """Understand ``answer`` as an answer of ``kind`` ("bool", "number", "letter" or "word")."""
    answer = _as_scalar(answer)
    if kind == "bool":
        if isinstance(answer, bool):
            return Reading(answer)
        if isinstance(answer, str) and _unquoted(answer).lower() in TRUE_WORDS | FALSE_WORDS:
            value = _unquoted(answer).lower() in TRUE_WORDS
            return Reading(value, note=f"You wrote the text {answer!r}, read as {value}. Python's {value} is written "
                                       f"without quotes: {value}, not {str(value)!r}.")
        return Reading(problem="This question wants True or False, written without quotes.")
    if kind == "number":
        if isinstance(answer, bool):
            return Reading(problem="This question wants a number, not True or False.")
        if isinstance(answer, numbers.Real):
            return Reading(float(answer))
        if isinstance(answer, str):
            value = parse_number(answer)
            if value is not None:
                typed = _unquoted(answer)
                if parse_number(typed) == _plain_float(typed):  # already a Python number, apart from the quotes
                    return Reading(value, note=f"You wrote the text {answer!r}; numbers are written without quotes: "
                                               f"{typed}.")
                return Reading(value, note=f"You wrote the text {answer!r}, read as the number "
                                           f"{_show_number(value)}; in Python write {_show_number(value)}, without "
                                           "quotes.")
            return Reading(problem=f"This question wants a number, such as 0.5 or 12 (without quotes); {answer!r} "
                                   "is not one.")
        if hasattr(answer, "shape"):
            return Reading(problem=f"This question wants one number, not an array of shape {answer.shape}.")
        return Reading(problem=f"This question wants a number, not a {type(answer).__name__}.")
    if kind == "letter":
        if isinstance(answer, str):
            # "B", " b ", "B)", "(b)", "b.", "B: ..." all mean B
            match = re.fullmatch(r"[(\[]?\s*([A-Za-z])\s*(?:[)\].:].*)?", _unquoted(answer), re.DOTALL)
            if match:
                return Reading(match.group(1).upper())
        return Reading(problem=f"This question wants the letter of your choice as a string, in quotes, such as "
                               f"\"A\"; {answer!r} is not a letter.")
    if isinstance(answer, str) and re.fullmatch(r"[\w-]+", _unquoted(answer).strip(".!")):
        return Reading(_unquoted(answer).strip(".!").lower())
    return Reading(problem="This question wants one word as a string, in quotes, such as \"word\".")


def same_answer(value, expected, tolerance: float = 1e-3) -> bool:
    """Whether ``value`` (already read in the kind of ``expected``) is ``expected``; numbers within ``tolerance``."""
    kind = kind_of(expected)
    if kind == "bool":
        return value is expected
    if kind == "number":
        return math.isclose(value, float(expected), rel_tol=tolerance, abs_tol=tolerance)
    return value == (expected if kind == "letter" else expected.lower())


def _show_number(value: float) -> str:
    """A number as a student would type it: 90, 0.25, 2.77259, 1.56e+23."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def show(value) -> str:
    """An answer as it is written in Python: "B", "local", 90, 0.25, False."""
    if kind_of(value) == "number":
        return _show_number(float(value))
    return repr(value) if isinstance(value, bool) else f'"{value}"'


class SelfCheck:
    """The questions of the course, and the wrong answers this student has given to each so far."""

    def __init__(self, questions: dict[str, Question]):
        self.questions = questions
        self.wrong: dict[str, set] = {}  # question id -> distinct wrong answers (as read)

    def question(self, question_id: str) -> Question:
        try:
            return self.questions[question_id]
        except KeyError:
            raise KeyError(f"there is no self-check question {question_id!r}; the ids look like "
                           f"{next(iter(self.questions))!r}") from None

    def judge(self, question_id: str, answer) -> Verdict:
        """Decide about ``answer`` to question ``question_id`` and write the reply; a wrong answer is remembered."""
        question = self.question(question_id)
        if answer is None or answer is Ellipsis:
            return Verdict("no answer", "No answer yet: replace the ... with your answer and run this cell again.")
        reading = read_answer(answer, question.kind)
        if reading.value is None:
            return Verdict("unreadable", reading.problem + " (This did not count as a try.)")
        note = f"\n({reading.note})" if reading.note else ""
        if same_answer(reading.value, question.answer, question.tolerance):
            return Verdict("right", f"Right. {question.why}{note}")
        hint = next((text for wrong, text in question.hints.items()
                     if same_answer(reading.value, wrong, question.tolerance)), None)
        if hint is None:
            hint = f"Re-read {question.see} and try again." if question.see else "Re-read the lesson and try again."
        tries = self.wrong.setdefault(question_id, set())
        tries.add(round(reading.value, 9) if question.kind == "number" else reading.value)
        opening = f"Not quite: {show(reading.value)} is not the answer. {hint}{note}"
        if len(tries) >= 2:
            return Verdict("wrong", f"{opening}\n\nThe answer is {show(question.answer)}. {question.why}",
                           revealed=True)
        return Verdict("wrong", f"{opening}\nTry again: after a second, different wrong answer this cell shows the "
                                f"answer and why. To see them now, run reveal(\"{question_id}\").")

    def reveal(self, question_id: str) -> str:
        question = self.question(question_id)
        return f"Question {question_id}: the answer is {show(question.answer)}. {question.why}"


_course: SelfCheck | None = None


def _self_check() -> SelfCheck:
    """The course's questions (read on first use), with this kernel's wrong answers so far."""
    global _course
    if _course is None:
        from .selfcheck_answers import QUESTIONS
        _course = SelfCheck(QUESTIONS)
    return _course


def check(question_id: str, answer) -> None:
    """Print whether ``answer`` answers self-check question ``question_id`` (e.g. "05.q3") rightly, and why."""
    print(_self_check().judge(question_id, answer).message)


def reveal(question_id: str) -> None:
    """Print the answer to self-check question ``question_id`` and the explanation."""
    print(_self_check().reveal(question_id))
