"""Names shared by test cells and the student's namespace across cells: what a test bound stands until a cell
binds it again, and a student can neither see nor replace a hidden test's data."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.runner import Limits, grade_notebook


def cell(source: str, **nbgrader):
    made = nbformat.v4.new_code_cell(source)
    if nbgrader:
        made.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False, "locked": False,
                                     **nbgrader}
    return made


def answer(grade_id: str, source: str):
    return cell(source, grade_id=grade_id, solution=True)


def graded_test(grade_id: str, source: str):
    return cell(source, grade_id=grade_id, grade=True, locked=True, points=1)


def grade(tmp_path: Path, answer_source: str) -> dict:
    notebook = nbformat.v4.new_notebook(cells=[
        answer("answer", "def double(x):\n    raise NotImplementedError()"),
        graded_test("test_first", '"""double doubles."""\nassert double(2) == 4\n### BEGIN HIDDEN TESTS\n'
                           "cases = {3: 6, 5: 10}\nfor value, doubled in cases.items():\n"
                           "    assert double(value) == doubled\n### END HIDDEN TESTS"),
        graded_test("test_later", '"""double doubles the hidden cases of the first test too."""\n'
                           "for value, doubled in cases.items():\n    assert double(value) == doubled"),
    ])
    source = tmp_path / "source.ipynb"
    nbformat.write(notebook, source)
    submitted = notebook
    submitted.cells[0].source = answer_source
    path = tmp_path / "submitted.ipynb"
    nbformat.write(submitted, path)
    result = grade_notebook("student", "names", path, source, source, Limits(cell_seconds=20))
    return {t.grade_id: t for t in result.tests}


def test_an_honest_answer_passes_both_cells(tmp_path):
    tests = grade(tmp_path, "def double(x):\n    return 2 * x")
    assert [t.status for t in tests.values()] == ["passed", "passed"]


@pytest.mark.parametrize("attack", [
    # A name of the student's own, bound before the test binds its hidden data under it, is not the test's later.
    "cases = {0: 0}\ndef double(x):\n    return 2 * x if x in (2, 0) else 0",
    # Re-binding the name from inside the function, during the first test's calls, changes nothing either.
    "cases = {0: 0}\ndef double(x):\n    global cases\n    cases = {0: 0}\n    return 2 * x if x == 2 else 0",
    # Reading the hidden data through the namespace finds nothing.
    "def double(x):\n    hidden = globals().get('cases', {})\n    return hidden.get(x, 2 * x if x == 2 else 0)",
])
def test_a_hidden_tests_data_is_neither_read_nor_replaced(tmp_path, attack):
    tests = grade(tmp_path, attack)
    assert tests["test_first"].status == "failed", tests["test_first"]
    assert tests["test_later"].status == "failed", tests["test_later"]
