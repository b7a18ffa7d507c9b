"""Self-check questions in lessons: the student stores an answer, the next cell says right or wrong and why."""

from __future__ import annotations

import math


def _matches(answer, correct, tolerance: float) -> bool:
    if isinstance(correct, str):
        return isinstance(answer, str) and answer.strip().lower() == correct.strip().lower()
    if isinstance(correct, bool) or isinstance(answer, bool):
        return answer is correct
    try:
        return math.isclose(float(answer), float(correct), rel_tol=tolerance, abs_tol=tolerance)
    except (TypeError, ValueError):
        return False


def self_check(answer, correct, why: str, hints: dict | None = None, tolerance: float = 1e-3) -> bool:
    """Print whether ``answer`` is right, with the reasoning; return True when it is.

    answer: what the student wrote (a letter such as "B", a number or True/False)
    correct: the right answer; numbers are compared with a relative and absolute ``tolerance``
    why: the explanation shown once the answer is right
    hints: optional {wrong answer: why it is wrong}, shown for that specific mistake
    """
    if answer is None or answer is Ellipsis:
        print("No answer yet: replace the ... with your answer and run this cell again.")
        return False
    if _matches(answer, correct, tolerance):
        print(f"Right. {why}")
        return True
    hint = None
    for wrong, explanation in (hints or {}).items():
        if _matches(answer, wrong, tolerance):
            hint = explanation
    print(f"Not quite: {answer!r} is not the answer. " + (hint or "Re-read the section above and try again."))
    return False
