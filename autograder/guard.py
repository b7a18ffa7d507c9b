"""Keep nbgrader's own autograde from running student code unsandboxed in this course.

``nbgrader autograde`` (and Formgrader's Autograde button, which calls it) runs the hidden tests inside the
student's kernel, with the grader's permissions and the gradebook in reach. This course grades with
``autograder grade`` instead. nbgrader_config.py calls :func:`refuse_plain_autograde`, which makes nbgrader's
Autograde stop, before it deletes or writes anything, with a message naming the command to use.

Setting ``AUTOGRADER_ALLOW_PLAIN_AUTOGRADE=1`` lifts the guard (for a benchmark against plain nbgrader, or a
course that trusts its students).
"""

from __future__ import annotations

import os

MESSAGE = ("This course grades with `autograder grade <assignment>`, which runs student code in a sandbox and "
           "the tests outside it; nbgrader's own autograde would run the tests in the student's kernel. Run "
           "`autograder grade` in the course folder (or set AUTOGRADER_ALLOW_PLAIN_AUTOGRADE=1 to allow "
           "nbgrader's autograde anyway).")


def refuse_plain_autograde() -> None:
    """Replace nbgrader's Autograde.start with a refusal (idempotent; a no-op when explicitly allowed)."""
    if os.environ.get("AUTOGRADER_ALLOW_PLAIN_AUTOGRADE") == "1":
        return
    from nbgrader.converters.autograde import Autograde
    from nbgrader.converters.base import NbGraderException

    if getattr(Autograde.start, "refuses_plain_autograde", False):
        return

    def start(self) -> None:
        self.log.error(MESSAGE)
        raise NbGraderException(MESSAGE)

    start.refuses_plain_autograde = True
    Autograde.start = start
