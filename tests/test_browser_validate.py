"""JupyterLab's Validate button shows the report `autograder validate` prints, in a real browser.

The course's nbgrader_config.py hands nbgrader's validator the autograder's report (autograder/validate.py); this
clicks the button on a notebook with one passing part, one failing part and the rest untouched, and compares the
dialog with what the command prints for the same file.
"""

from __future__ import annotations

import re

import nbformat
from browser_support import STEP_TIMEOUT
from conftest import run_autograder
# The fixtures and steps of the other browser tests: the same JupyterLab set-up and the same clicks.
from test_browser import (ASSIGNMENT, browser, close_dialog, expect, lab, lab_session, open_notebook,  # noqa: F401
                          playwright, session, solutions, validate)

ATTEMPT = "attempt.ipynb"  # beside the student version, in the scratch copy of the course
PASSING, FAILING = "numerical_derivative", "numerical_gradient"  # solution cells; their tests are test_<name>
TAG_LINE = re.compile(r"^  (PASS|FAIL|TODO|ERROR|DONE) ")


def write_attempt(course) -> tuple[str, str]:
    """The student version with one part solved, one solved wrongly, everything else untouched; its folder and name."""
    folder = course / "assignments" / ASSIGNMENT
    answers = solutions(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    notebook = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == PASSING:
            cell.source = answers[PASSING]
        elif grade_id == FAILING:
            cell.source = (f"import numpy as np\n\ndef {FAILING}(f, x, h=1e-5):\n"
                           "    return np.zeros_like(x, dtype=float)")
    nbformat.write(notebook, folder / ATTEMPT)
    return folder, ATTEMPT


def test_the_validate_button_shows_the_report_of_autograder_validate(lab_session):
    steps = lab_session
    folder, name = write_attempt(steps.lab.root)
    # Run in the notebook's folder with its bare name, so both reports name the notebook the same way.
    printed = run_autograder("validate", name, cwd=folder, timeout=300)
    assert printed.returncode == 1, printed.stdout + printed.stderr
    report = printed.stdout.strip()
    tagged = [line for line in report.splitlines() if TAG_LINE.match(line)]
    assert f"  PASS  test_{PASSING} (2 points)" in tagged, report
    assert f"  FAIL  test_{FAILING} (3 points)" in tagged, report
    assert "  TODO  test_gradient_descent_1d (3 points)" in tagged, report
    assert "  TODO  written_two_valleys (3 points)" in tagged, report  # an unanswered written part, as in the button

    with steps:
        page = open_notebook(steps, f"assignments/{ASSIGNMENT}/{name}", "validate")
        steps.shot("attempt_opened")
        dialog = validate(page)
        steps.shot("validated")
        message = dialog.locator("#validation-message")
        expect(message).to_have_class(re.compile(r"\bvalidation-failed\b"))
        expect(message.locator("pre").last).to_contain_text("of 6 test cells pass.", timeout=STEP_TIMEOUT)
        # nbgrader's dialog: "The following cell failed:", then the cell's source and its error, each in a box.
        shown = "\n".join(box.strip("\n") for box in message.locator("pre").all_inner_texts())
        assert [line for line in shown.splitlines() if TAG_LINE.match(line)] == tagged, shown
        assert shown == report, f"the dialog:\n{shown}\n--- autograder validate:\n{report}"
        close_dialog(page)
