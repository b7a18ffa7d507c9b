"""`autograder validate`: what a student runs before submitting."""

import re

import nbformat

from autograder.validate import collect_results, report
from conftest import ASSIGNMENT, ROOT, run_autograder

STUDENT_VERSION = ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOLUTION = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def test_a_complete_solution_passes_and_is_reminded_of_hidden_tests():
    result = run_autograder("validate", str(SOLUTION))
    assert result.returncode == 0, result.stdout
    assert "6 of 6 test cells pass." in result.stdout
    assert "Hidden tests run when your work is graded" in result.stdout


def test_the_untouched_student_version_fails_with_todo_marks():
    before = STUDENT_VERSION.read_bytes()
    result = run_autograder("validate", str(STUDENT_VERSION))
    assert result.returncode == 1
    assert "TODO  test_numerical_derivative (2 points)" in result.stdout
    assert "0 of 6 test cells pass." in result.stdout
    assert STUDENT_VERSION.read_bytes() == before  # validating never changes the file


def test_a_wrong_answer_is_reported_with_the_check_message(tmp_path):
    notebook = nbformat.read(SOLUTION, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace("x = x - learning_rate * derivative(x)", "x = x + learning_rate * derivative(x)")
    path = tmp_path / "attempt.ipynb"
    nbformat.write(notebook, path)
    result = run_autograder("validate", str(path))
    assert result.returncode == 1
    assert re.search(r"FAIL  test_gradient_descent_1d \(3 points\)\n\s+CheckFailure: gradient_descent_1d\(2x, 3.0, "
                     r"0.1, 4\): 4 of 5 values are not close to the correct result.", result.stdout), result.stdout


def test_broken_or_missing_notebooks_get_a_clear_error(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    result = run_autograder("validate", str(broken))
    assert result.returncode == 2
    assert f"{broken}: not a valid notebook: broken JSON" in result.stderr
    result = run_autograder("validate", str(tmp_path / "missing.ipynb"))
    assert result.returncode == 2 and "cannot be read" in result.stderr


def test_a_cell_that_runs_too_long_is_stopped(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(30)")])
    path = tmp_path / "slow.ipynb"
    nbformat.write(notebook, path)
    result = run_autograder("validate", "--timeout", "2", str(path), timeout=60)
    assert result.returncode == 1
    assert "ERROR" in result.stdout


# --- The report's parts, and JupyterLab's Validate button --------------------------------------------------------

def nbgrader_cell(kind: str, grade_id: str, source: str, points: int = 1):
    """A cell as nbgrader's student version holds it: "answer" (code), "test" or "written" (markdown)."""
    test, written = kind == "test", kind == "written"
    meta = {"grade": test or written, "solution": not test, "locked": test, "grade_id": grade_id, "task": False,
            "schema_version": 3, **({"points": points} if test or written else {})}
    make = nbformat.v4.new_markdown_cell if written else nbformat.v4.new_code_cell
    return make(source, metadata={"nbgrader": meta})


def error(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def test_the_report_has_one_line_per_part_and_unanswered_parts_are_todo():
    """Written answers and multiple-choice answers not given yet are TODO, never a FAIL with a NameError."""
    cells = [
        nbgrader_cell("answer", "double", "def double(x):\n    return 2 * x"),
        nbgrader_cell("test", "test_double", "assert double(2) == 4"),
        nbgrader_cell("answer", "half", "def half(x):\n    return x"),
        nbgrader_cell("test", "test_half", "assert_close(half(4), 2, name='half(4)')"),
        nbgrader_cell("answer", "q_untouched", "# YOUR CODE HERE\nraise NotImplementedError()"),
        nbgrader_cell("test", "test_q_untouched", "assert_choice(first_choice, 'ABCD', name='first_choice')"),
        nbgrader_cell("answer", "q_placeholder", "second_choice = ...  # A, B, C or D"),
        nbgrader_cell("test", "test_q_placeholder", "assert_choice(second_choice, 'ABCD', name='second_choice')"),
        nbgrader_cell("written", "written_untouched", "YOUR ANSWER HERE", points=3),
        nbgrader_cell("written", "written_answered", "Because the loss is convex.", points=2),
    ]
    outputs = {"test_half": error("CheckFailure", "half(4): the value is not close to the correct result.\n"
                                                  "Returned: 4\nExpected: 2"),
               "q_untouched": error("NotImplementedError", ""),
               "test_q_untouched": error("NameError", "name 'first_choice' is not defined"),
               "test_q_placeholder": error("CheckFailure", "second_choice has no answer yet: set it to one of A, B, "
                                                           "C, D.")}
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs = [outputs[cell.metadata.nbgrader.grade_id]] if cell.metadata.nbgrader.grade_id in outputs \
                else []
    text, ok = report("quiz.ipynb", collect_results(nbformat.v4.new_notebook(cells=cells)))
    assert not ok
    assert text.splitlines() == [
        "Validating quiz.ipynb (visible tests only)",
        "  PASS  test_double (1 point)",
        "  FAIL  test_half (1 point)",
        "        CheckFailure: half(4): the value is not close to the correct result.",
        "        Returned: 4",
        "        Expected: 2",
        "  TODO  q_untouched",
        "        your solution is not written yet",
        "  TODO  test_q_untouched (1 point)",
        "        uses first_choice, which you have not written yet",
        "  TODO  test_q_placeholder (1 point)",
        "        second_choice is not answered yet (still ... or None)",
        "  TODO  written_untouched (3 points)",
        "        write your answer in this cell; your instructor grades it",
        "  DONE  written_answered (2 points)",
        "        answered; your instructor grades it",
        "1 of 4 test cells pass.",
        "Fix the cells marked FAIL, TODO or ERROR above and run validate again. Hidden tests also run when your "
        "work is graded.",
    ]
    # A NameError raised inside the student's own function is a real failure, not a missing answer.
    cells = [nbgrader_cell("answer", "f", "def f():\n    return undefined_name"),
             nbgrader_cell("test", "test_f", "assert f() == 1")]
    cells[1].outputs = [error("NameError", "name 'undefined_name' is not defined")]
    text, _ = report("f.ipynb", collect_results(nbformat.v4.new_notebook(cells=cells)))
    assert "  FAIL  test_f (1 point)\n        NameError: name 'undefined_name' is not defined" in text
    # Every part answered and passing: the report says so.
    text, ok = report("done.ipynb", collect_results(nbformat.v4.new_notebook(cells=cells[:1] + [
        nbgrader_cell("test", "test_g", "assert True"), nbgrader_cell("written", "w", "An answer.")])))
    assert ok and "All visible tests pass." in text


def test_nbgrader_validate_through_the_course_config_reports_what_autograder_validate_prints(tmp_path):
    """What JupyterLab's Validate button runs (nbgrader's Validator with the course's nbgrader_config.py) and
    `autograder validate` agree, line for line."""
    from nbgrader.apps import NbGrader
    from nbgrader.validator import Validator

    cells = [nbgrader_cell("answer", "double", "def double(x):\n    return 2 * x"),
             nbgrader_cell("test", "test_double", "assert double(2) == 4"),
             nbgrader_cell("answer", "half", "def half(x):\n    return x"),
             nbgrader_cell("test", "test_half", "from autograder import assert_close\n"
                                                "assert_close(half(4), 2, name='half(4)')"),
             nbgrader_cell("answer", "q_choice", "# YOUR CODE HERE\nraise NotImplementedError()"),
             nbgrader_cell("test", "test_q_choice", "from autograder import assert_choice\n"
                                                    "assert_choice(choice, 'ABCD', name='choice')"),
             nbgrader_cell("written", "written_why", "YOUR ANSWER HERE", points=3)]
    path = tmp_path / "quiz.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    printed = run_autograder("validate", path.name, cwd=tmp_path)
    assert printed.returncode == 1, printed.stderr
    assert "  FAIL  test_half (1 point)" in printed.stdout and "  TODO  test_q_choice (1 point)" in printed.stdout

    app = NbGrader(config_file_paths=[str(ROOT)])  # as nbgrader's validate handler loads the course's config
    app.load_config_file()
    failed = Validator(config=app.config).validate(str(path))["failed"]
    assert len(failed) == 1  # one entry, which the dialog shows as two boxes: its source, then its error
    assert failed[0]["source"] + "\n" + failed[0]["raw_error"] == printed.stdout.strip()
    assert "TODO  written_why (3 points)" in failed[0]["error"]  # the HTML the dialog shows

    # When nothing is left to fix, nbgrader's own "Success" message stands.
    for cell in cells:
        cell.source = {"half": "def half(x):\n    return x / 2", "q_choice": "choice = 'B'",
                       "written_why": "Because halving twice quarters."}.get(cell.metadata.nbgrader.grade_id,
                                                                               cell.source)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    assert run_autograder("validate", path.name, cwd=tmp_path).returncode == 0
    assert Validator(config=app.config).validate(str(path)) == {}
