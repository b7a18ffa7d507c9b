"""`autograder validate`: what a student runs before submitting."""

import re

import nbformat

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
