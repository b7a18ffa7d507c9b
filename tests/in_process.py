"""Grade a small instructor notebook with :func:`autograder.runner.grade_notebook`, as `autograder grade` does.

For tests that need one notebook built for them (tests/test_one_kernel.py, tests/test_stand_in_attacks.py): an
:class:`fidelity.notebook.Assignment` is released as nbgrader's generate_assignment makes the student version (its
own ClearSolutions and ClearHiddenTests preprocessors, without a gradebook), with data files next to it, and a
student's submission is that released notebook with their answer cells filled in (``Assignment.submission``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

from autograder import parallel
from autograder.runner import Limits, SubmissionResult, TestResult
from fidelity.notebook import Assignment


@dataclass(frozen=True)
class Release:
    assignment: Assignment
    source: Path  # the instructor's notebook
    released: Path  # the student version, in the folder of the assignment's released files

    def submit(self, student: str, inbox: Path) -> Path:
        """Write what ``student`` (a name in ``assignment.students``) hands in under ``inbox``; return its path."""
        released = nbformat.read(self.released, as_version=4)
        path = inbox / student / self.assignment.name / self.source.name
        path.parent.mkdir(parents=True)
        nbformat.write(self.assignment.submission(released, student), path)
        return path

    def grade_all(self, students: list[str], inbox: Path, limits: Limits,
                  workers: int = 2) -> dict[str, SubmissionResult]:
        """Grade several students at once, each in a forked grader process of its own (as `autograder grade`
        does); returns student -> result."""
        jobs = [parallel.Job(student, self.assignment.name, str(self.submit(student, inbox)), str(self.source),
                             str(self.released), str(self.released.parent), limits) for student in students]
        results: dict[str, SubmissionResult] = {}
        parallel.run(jobs, workers, lambda job, result: results.__setitem__(job.student, result))
        return results


def release(assignment: Assignment, course: Path, data_files: dict[str, str]) -> Release:
    """Write the instructor's notebook to course/source/ and the student version, with ``data_files`` (name ->
    text) beside it, to course/release/."""
    source = course / "source" / assignment.name / f"{assignment.name}.ipynb"
    released = course / "release" / assignment.name / source.name
    source.parent.mkdir(parents=True)
    released.parent.mkdir(parents=True)
    notebook = assignment.source_notebook()
    nbformat.write(notebook, source)
    resources: dict = {}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    nbformat.write(notebook, released)
    for name, text in data_files.items():
        (released.parent / name).write_text(text, encoding="utf-8")
    return Release(assignment, source, released)


def by_grade_id(result: SubmissionResult) -> dict[str, TestResult]:
    return {test.grade_id: test for test in result.tests}


def describe(test: TestResult) -> str:
    """One line for an assertion message: what the grader said about a test cell."""
    return (f"{test.grade_id}: {test.status}, {test.score}/{test.points}: {test.message!r} "
            f"(detail: {test.detail[:500]!r})")


def assert_full_points(result: SubmissionResult, grade_id: str) -> None:
    """The test cell grade_id passed with all its points."""
    test = by_grade_id(result)[grade_id]
    assert (test.status, test.score) == ("passed", test.points), describe(test)


def assert_no_problems_or_findings(result: SubmissionResult) -> None:
    """Nothing went wrong while grading, and the integrity report has nothing to say about the submission."""
    assert result.problems == [], result.problems
    assert result.findings == [], [str(finding) for finding in result.findings]
