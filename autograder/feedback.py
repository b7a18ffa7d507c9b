"""Feedback that never reveals hidden tests.

nbgrader's feedback shows each test cell as it ran at grading time: the hidden tests' source and, when
one fails, a traceback quoting the failing line with its expected values. :class:`HideHiddenTests` runs
inside ``nbgrader generate_feedback`` (see ``nbgrader_config.py``) and, for every cell that had hidden
tests, removes their source and replaces the cell's outputs with a short report that keeps only what
is safe to show: the exception type and, for :class:`autograder.checks.CheckFailure`, the first line of
its message (which by construction holds no expected value).
"""

from __future__ import annotations

import re

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
HIDDEN_PLACEHOLDER = "# Hidden tests ran here when your work was graded; their code is not shown."
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# How the grader marks, in an error's message, a failure that is safe to show whole: one raised by the student's
# own code, or a visible assertion of a cell that also has hidden tests.
STUDENT_RAISED = "raised by your code: "
VISIBLE_FAILURE = "visible test: "


def remove_hidden_region(source: str) -> tuple[str, bool]:
    """Return ``source`` with every hidden-test region replaced by one placeholder line, and whether any was."""
    kept, inside, found = [], False, False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside, found = True, True
            kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_PLACEHOLDER)
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), found


def safe_error_summary(ename: str, evalue: str) -> str:
    """One line describing an error from a hidden-test cell without any expected value."""
    first_line = ANSI_ESCAPE.sub("", evalue).strip().split("\n")[0]
    if first_line.startswith((STUDENT_RAISED, VISIBLE_FAILURE)):
        return f"{ename} {first_line}" if first_line.startswith(STUDENT_RAISED) else \
            f"{ename}: {first_line[len(VISIBLE_FAILURE):]}"
    if ename == "CheckFailure":
        return f"{ename}: {first_line}"
    if ename == "NotImplementedError":
        return "NotImplementedError: a function this test uses is not written yet."
    if ename == "AssertionError":
        # A bare assert's message and traceback may quote the hidden expected values.
        return "AssertionError: a hidden test failed."
    # Errors raised by the student's own code (NameError, TypeError, ...) are theirs to see.
    return f"{ename}: {first_line}" if first_line else ename


class HideHiddenTests(NbGraderPreprocessor):
    """Strip hidden tests and what their failures reveal from feedback notebooks."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, had_hidden = remove_hidden_region(cell.source)
        if not had_hidden:
            return cell, resources
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            lines = [safe_error_summary(error.get("ename", "Error"), error.get("evalue", "")) for error in errors]
            text = "A test in this cell failed.\n" + "\n".join(lines) + (
                "\nHidden tests check your functions on inputs you have not seen: re-read the task, "
                "then test your code on your own examples.\n")
        else:
            text = "All tests in this cell passed.\n"
        # Everything the hidden tests printed or displayed is dropped: it could show their values.
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        return cell, resources
