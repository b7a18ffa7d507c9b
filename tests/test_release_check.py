"""`autograder release` grades each assignment before releasing it: the instructor's solution must earn every
automatic point and the untouched student version none, or nothing reaches assignments/ (exit 2)."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT, copy_course, fingerprint, mutate, notebook_path, run_autograder
from mutations import CATALOGUE

ASSIGNMENT = "ps1_gradient_descent"
OTHER = "ps3_optimizers"
SUMMARY = re.compile(r"^checked (\S+): solution (\S+)/(\S+) automatic points, untouched (\S+)/(\S+)$", re.M)


def make_stale(course):
    """Change every student version the way a hand edit would, so a release (even an identical one) shows."""
    for path in (course / "assignments").rglob("*.ipynb"):
        path.write_text(path.read_text().replace("YOUR CODE HERE", "STALE COPY", 1))


def edit_source(course, assignment, change) -> None:
    path = notebook_path(course / "source", assignment)
    notebook = nbformat.read(path, as_version=4)
    change(notebook)
    nbformat.write(notebook, path)


def add_test_that_always_passes(notebook) -> None:
    """A graded test cell, right after the first answer cell, that passes whatever the student wrote."""
    position = next(i for i, cell in enumerate(notebook.cells)
                    if cell.metadata.get("nbgrader", {}).get("solution"))
    cell = nbformat.v4.new_code_cell('"""Checks nothing at all."""\nassert True\n')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_always_passes", "locked": True, "points": 2,
                                 "schema_version": 3, "solution": False, "task": False}
    notebook.cells.insert(position + 1, cell)


def test_the_course_assignments_pass_the_check(tmp_path):
    course = copy_course(tmp_path / "course")
    make_stale(course)
    result = run_autograder("--quiet", "release", cwd=course)
    assert result.returncode == 0, result.stdout + result.stderr
    summaries = {match[0]: match[1:] for match in SUMMARY.findall(result.stdout)}
    assert sorted(summaries) == sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
    for name, (solution, available, untouched, available_again) in summaries.items():
        assert solution == available == available_again and float(available) > 0, (name, summaries[name])
        assert untouched == "0", (name, summaries[name])
    assert "UNCHECKED" not in result.stderr
    # What was checked is what was released: the student versions, in step with the committed ones.
    assert fingerprint(course / "assignments") == fingerprint(ROOT / "assignments")


def test_a_wrong_solution_is_refused_and_nothing_is_released(tmp_path):
    course = copy_course(tmp_path / "course")
    mutant = next(m for m in CATALOGUE[ASSIGNMENT] if m.name == "derivative_missing_half")
    edit_source(course, ASSIGNMENT, lambda notebook: mutate(notebook, mutant))
    make_stale(course)
    before = fingerprint(course / "assignments")
    result = run_autograder("--quiet", "release", ASSIGNMENT, OTHER, cwd=course)
    assert result.returncode == 2, result.stdout + result.stderr
    assert fingerprint(course / "assignments") == before, "a refused release changed assignments/"
    assert "released assignments/" not in result.stdout
    assert "nothing was released" in result.stderr
    offending = [line for line in result.stderr.splitlines() if ", test_" in line]
    named = [line.split(",")[1].split()[0] for line in offending]
    assert set(mutant.fails) <= set(named) and all(name.startswith("test_") for name in named), named
    assert "the instructor's solution fails this test" in offending[0]
    assert "CheckFailure" in offending[0]  # the test's own message
    # The other assignment was checked and is fine, yet it waits with the rest.
    assert re.search(rf"^checked {OTHER}: solution (\S+)/\1 automatic points, untouched 0/", result.stdout, re.M)
    earned, available = re.search(rf"^checked {ASSIGNMENT}: solution (\S+)/(\S+) automatic points", result.stdout,
                                  re.M).groups()
    assert float(earned) < float(available)


def test_a_test_that_passes_untouched_work_is_refused(tmp_path):
    course = copy_course(tmp_path / "course")
    edit_source(course, ASSIGNMENT, add_test_that_always_passes)
    make_stale(course)
    before = fingerprint(course / "assignments")
    result = run_autograder("--quiet", "release", ASSIGNMENT, cwd=course)
    assert result.returncode == 2, result.stdout + result.stderr
    assert fingerprint(course / "assignments") == before
    offending = [line for line in result.stderr.splitlines() if ", test_" in line]
    assert len(offending) == 1 and "test_always_passes (2 points)" in offending[0]
    assert "the untouched student version earns 2 of 2 points" in offending[0]
    assert re.search(rf"^checked {ASSIGNMENT}: solution 19/19 automatic points, untouched 2/19", result.stdout, re.M)


def test_skip_check_releases_with_a_warning(tmp_path):
    course = copy_course(tmp_path / "course")
    edit_source(course, ASSIGNMENT, add_test_that_always_passes)
    result = run_autograder("--quiet", "release", "--skip-check", ASSIGNMENT, cwd=course)
    assert result.returncode == 0, result.stderr
    assert f"released assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb" in result.stdout
    assert "checked " not in result.stdout
    assert "warning" in result.stderr and f"{ASSIGNMENT} released UNCHECKED" in result.stderr
    released = notebook_path(course / "assignments", ASSIGNMENT).read_text()
    assert "test_always_passes" in released


def test_the_solution_is_handed_in_as_a_student_would_write_it():
    """Answer cells hold the solution without nbgrader's markers; every other cell is the student version's."""
    from autograder.release_check import solution_delimiters, solution_submission

    source = nbformat.read(notebook_path(ROOT / "source", ASSIGNMENT), as_version=4)
    released = nbformat.read(notebook_path(ROOT / "assignments", ASSIGNMENT), as_version=4)
    submission = solution_submission(source, released, solution_delimiters(ROOT))
    assert len(submission.cells) == len(released.cells)
    by_id = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in source.cells}
    answers = 0
    for cell, student_cell in zip(submission.cells, released.cells):
        meta = cell.metadata.get("nbgrader", {})
        assert cell.metadata == student_cell.metadata
        if not meta.get("solution"):
            assert cell.source == student_cell.source
            continue
        answers += 1
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
        assert "raise NotImplementedError" not in cell.source and "YOUR ANSWER HERE" not in cell.source
        solution_lines = [line for line in by_id[meta["grade_id"]].source.splitlines() if "SOLUTION" not in line]
        assert cell.source.splitlines() == solution_lines
    assert answers >= 5


@pytest.mark.parametrize("status, score, reason", [
    ("failed", 0.0, "fails this test"),
    ("grader limit", 0.0, "could not be tested (the grader reached a limit)"),
    ("not run", 0.0, "was not tested"),
])
def test_every_automatic_point_the_solution_misses_is_named(status, score, reason):
    from autograder.release_check import NotebookCheck
    from autograder.runner import SubmissionResult, TestResult

    solution = SubmissionResult("solution", ASSIGNMENT, ASSIGNMENT, tests=[
        TestResult("test_ok", 2.0, 2.0, "passed"),
        TestResult("test_bad", 3.0, score, status, "What went wrong.", "The instructor's detail."),
        TestResult("written", 3.0, None, "needs manual grading"),
    ])
    untouched = SubmissionResult("untouched", ASSIGNMENT, ASSIGNMENT, tests=[
        TestResult("test_ok", 2.0, 0.0, "failed", "NotImplementedError"),
        TestResult("test_bad", 3.0, 0.0, "failed", "NotImplementedError"),
        TestResult("written", 3.0, 0.0, "no response", "No response."),
    ])
    problems = NotebookCheck(ASSIGNMENT, ASSIGNMENT, solution, untouched).problems()
    assert len(problems) == 1
    assert problems[0].startswith(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb, test_bad (3 points): the instructor's solution "
                                  f"{reason}: What went wrong.")
    assert "The instructor's detail." in problems[0]


def test_written_answers_are_never_automatic_points():
    """Even when grading fails and every part comes back "not run", a written answer is left to a person."""
    from autograder.release_check import AssignmentCheck, NotebookCheck, manual_parts
    from autograder.runner import SubmissionResult, TestResult

    source = nbformat.read(notebook_path(ROOT / "source", ASSIGNMENT), as_version=4)
    manual = manual_parts(source)
    assert manual == {"written_two_valleys"}
    lost = [TestResult(cell.metadata["nbgrader"]["grade_id"], float(cell.metadata["nbgrader"]["points"]), 0.0,
                       "not run", "Not graded: the grader failed.")
            for cell in source.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    check = NotebookCheck(ASSIGNMENT, ASSIGNMENT, SubmissionResult("solution", ASSIGNMENT, ASSIGNMENT, tests=lost),
                          SubmissionResult("untouched", ASSIGNMENT, ASSIGNMENT, tests=lost), manual=manual)
    named = [problem.split(",")[1].split()[0] for problem in check.problems()]
    assert named == [test.grade_id for test in lost if test.grade_id not in manual] and len(named) == 6
    assert AssignmentCheck(ASSIGNMENT, [check]).points("solution") == (0.0, 17.0)
