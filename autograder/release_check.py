"""The check run before an assignment is released: called by `autograder release` (:func:`autograder.cli.cmd_release`).

An assignment grades right when the instructor's solution, handed in as a student would hand it in, earns every
automatic point, and the student version, handed in untouched, earns none. Both are graded by the real pipeline
(:func:`autograder.runner.grade_notebook`, student code in the sandbox), so a wrong solution, a test that cannot
fail, a test the grader cannot carry out or a hidden test that outgrows the time limit is found before students
see the assignment. The student versions are generated into a scratch folder, graded, and copied into
assignments/ only when every released notebook passes; otherwise assignments/ is left as it was.

Written answers and task cells are graded by a person, so they are not automatic points: the check ignores them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import grading, notebooks, parallel
from .cells import is_answer, is_graded_part, nbgrader_meta
from .runner import Limits, SubmissionResult, TestResult

SOLUTION = "solution"  # the instructor's solution, as a student who wrote it would hand it in
UNTOUCHED = "untouched"  # the student version, handed in as released
MANUAL = ("needs manual grading", "no response")  # statuses of the parts a person grades


def manual_parts(source: nbformat.NotebookNode) -> set[str]:
    """Grade ids of the parts a person grades: graded answer cells (written answers) and task cells."""
    return {nbgrader_meta(cell)["grade_id"] for cell in source.cells
            if nbgrader_meta(cell).get("grade_id") and is_graded_part(nbgrader_meta(cell))}


@dataclass
class NotebookCheck:
    """One released notebook, graded twice."""
    assignment: str
    notebook: str
    solution: SubmissionResult | None = None
    untouched: SubmissionResult | None = None
    manual: set[str] = field(default_factory=set)  # grade ids of the parts a person grades

    def automatic(self, result: SubmissionResult | None) -> list[TestResult]:
        """The result's automatic points: every test but the parts a person grades (by the cell, or its status)."""
        return [test for test in result.tests if test.grade_id not in self.manual and test.status not in MANUAL] \
            if result else []

    def offending_cells(self) -> list[str]:
        """One entry per offending cell, naming it and saying why; empty when the notebook grades right."""
        where = f"{self.assignment}/{self.notebook}.ipynb"
        found = []
        for test in self.automatic(self.solution):
            if test.status == "passed" and (test.score or 0.0) >= test.points - 1e-9:
                continue
            found.append(f"{where}, {test.grade_id} ({test.points:g} points): the instructor's solution "
                         f"{_solution_reason(test)}")
        for test in self.automatic(self.untouched):
            if (test.score or 0.0) > 0:
                found.append(f"{where}, {test.grade_id} ({test.points:g} points): the untouched student version "
                             f"earns {test.score:g} of {test.points:g} points (status {test.status}), so this test "
                             "passes without any work")
        return found

    def problems(self) -> list[str]:
        """The offending cells, then what went wrong while the solution was graded (when anything did)."""
        found = self.offending_cells()
        if found and self.solution and self.solution.problems:
            found += [f"{self.assignment}/{self.notebook}.ipynb: while grading the solution: {_short(problem)}"
                      for problem in self.solution.problems]
        return found

    def notes(self) -> list[str]:
        """Worth an instructor's look without refusing the release: what grading reported about the solution."""
        where = f"{self.assignment}/{self.notebook}.ipynb"
        if self.solution is None:
            return []
        return ([f"{where}: an honest student who writes the solution would be reported for "
                 f"'{finding.kind}' in {finding.cell} ({_short(finding.detail)})" for finding in self.solution.findings]
                + [f"{where}: grading repaired the solution's notebook: {warning}"
                   for warning in self.solution.cell_warnings])


@dataclass
class AssignmentCheck:
    name: str
    notebooks: list[NotebookCheck] = field(default_factory=list)

    def points(self, which: str) -> tuple[float, float]:
        """Automatic points earned and available, over the assignment's notebooks, for SOLUTION or UNTOUCHED."""
        tests = [test for check in self.notebooks for test in check.automatic(getattr(check, which))]
        return sum(test.score or 0.0 for test in tests), sum(test.points for test in tests)

    def problems(self) -> list[str]:
        return [problem for check in self.notebooks for problem in check.problems()]

    def notes(self) -> list[str]:
        return [note for check in self.notebooks for note in check.notes()]

    def summary(self) -> str:
        solution, available = self.points(SOLUTION)
        untouched, _ = self.points(UNTOUCHED)
        offending = sum(len(check.offending_cells()) for check in self.notebooks)
        verdict = f" ({offending} offending cell{'s' * (offending != 1)})" if offending else ""
        return (f"checked {self.name}: solution {solution:g}/{available:g} automatic points, "
                f"untouched {untouched:g}/{available:g}{verdict}")


@dataclass
class CheckedRelease:
    checks: list[AssignmentCheck]
    written: list[Path]  # the student notebooks now in assignments/; empty when the release was refused

    @property
    def passed(self) -> bool:
        return not any(check.problems() for check in self.checks)


def _solution_reason(test: TestResult) -> str:
    """Why the solution missed the test's points: its message, and the instructor's detail (the full error)."""
    message, detail = test.message.strip(), test.detail.strip()
    if detail.startswith(message):  # the detail repeats the message, then adds to it
        message, detail = detail, ""
    elif detail in message:
        detail = ""
    text = _short(message or "no message", 1500)
    if detail:
        text += "\n" + _short(detail, 1500)
    text = text.replace("\n", "\n    ")
    if test.status == "failed":
        return f"fails this test: {text}"
    if test.status == "grader limit":
        return f"could not be tested (the grader reached a limit): {text}"
    if test.status == "not run":
        return f"was not tested: {text}"
    return f"scores {test.score or 0:g} ({test.status}): {text}"


def _short(text: str, limit: int = 500) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " …"


def solution_delimiters(course: Path) -> tuple[str, str]:
    """The markers around solutions, as the course's nbgrader configuration sets them for ClearSolutions."""
    from nbgrader.preprocessors import ClearSolutions
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config() \
        if (course / "nbgrader_config.py").is_file() else Config()
    clear = ClearSolutions(config=config)
    return clear.begin_solution_delimeter, clear.end_solution_delimeter


def written_solution(source: str, delimiters: tuple[str, str]) -> str:
    """An answer cell's solution as a student would write it: the instructor's source without the marker lines."""
    begin, end = delimiters
    return "\n".join(line for line in source.split("\n") if begin not in line and end not in line)


def solution_submission(source: nbformat.NotebookNode, released: nbformat.NotebookNode,
                        delimiters: tuple[str, str]) -> nbformat.NotebookNode:
    """The released notebook with every answer cell holding the instructor's solution.

    This is what a student who wrote the solution hands in: the student version's cells, metadata and stubs
    elsewhere, and in each answer cell the solution's code (or text) instead of the stub. Handing in the instructor
    notebook itself would grade cells that students never receive.
    """
    solutions = {nbgrader_meta(cell)["grade_id"]: cell.source for cell in source.cells
                 if is_answer(nbgrader_meta(cell)) and nbgrader_meta(cell).get("grade_id")}
    submission = nbformat.from_dict(released)
    for cell in submission.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if is_answer(nbgrader_meta(cell)) and grade_id in solutions:
            cell.source = written_solution(solutions[grade_id], delimiters)
    return submission


def check(course: Path, names: list[str], released: Path, scratch: Path, jobs: int | None = None,
          limits: Limits | None = None, progress: bool = True, db_url: str | None = None) -> list[AssignmentCheck]:
    """Grade each released notebook of ``names`` (student versions in ``released``/<name>/) twice, in parallel.

    scratch: a folder for the two submissions of each notebook (laid out as <student>/<assignment>/<notebook>)
    db_url: the gradebook in which generating the student versions recorded their test cells
    """
    settings = grading.load_settings(course)
    limits = limits or Limits(cell_seconds=settings.cell_seconds)
    delimiters = solution_delimiters(course)
    checks = {name: AssignmentCheck(name) for name in names}
    work, by_job = [], {}
    for name in names:
        recorded = grading.recorded_sources(settings, name, db_url) if db_url else {}
        for path in sorted((released / name).glob("*.ipynb")):
            source_path = course / "source" / name / path.name
            source, student_version = notebooks.read_notebook(source_path), notebooks.read_notebook(path)
            submissions = {SOLUTION: solution_submission(source, student_version, delimiters),
                           UNTOUCHED: student_version}
            notebook_check = NotebookCheck(name, path.stem, manual=manual_parts(source))
            checks[name].notebooks.append(notebook_check)
            for student, notebook in submissions.items():
                submitted = scratch / student / name / path.name
                submitted.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(notebook, submitted)
                job = parallel.Job(student, name, str(submitted), str(source_path), str(path), str(released / name),
                                   limits, recorded.get(path.stem))
                work.append(job)
                by_job[id(job)] = notebook_check

    def on_result(job: parallel.Job, result: SubmissionResult) -> None:
        setattr(by_job[id(job)], job.student, result)

    try:
        grading.check_sandbox()
    except grading.GradingError as error:
        raise grading.GradingError(f"{error}\nThe release check grades each solution in the sandbox, so nothing was "
                                   "released; `autograder release --skip-check` releases without it.") from None
    meter = parallel.Progress("Checking the release", len(work), enabled=progress)
    parallel.run(work, jobs or os.cpu_count() or 1, on_result, meter)
    return [checks[name] for name in names]


def _install(generated: Path, destination: Path) -> None:
    """Put a generated assignment folder in place of ``destination``, as generate_assignment --force would."""
    staging = destination.with_name(f".{destination.name}.new")
    retired = destination.with_name(f".{destination.name}.old")
    for leftover in (staging, retired):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(generated, staging)
    if destination.exists():
        destination.rename(retired)
    staging.rename(destination)
    if retired.exists():
        shutil.rmtree(retired)


def release_checked(course: Path, names: list[str] | None = None, quiet: bool = False, jobs: int | None = None,
                    progress: bool = True, limits: Limits | None = None) -> CheckedRelease:
    """Generate the student versions in a scratch folder, check them, and copy them into assignments/ if all pass.

    When any notebook fails the check nothing is copied: assignments/ stays as it was.
    """
    course = Path(course).resolve()
    names = names or grading.source_assignments(course)
    destination = course / "assignments"
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as scratch:
        generated = Path(scratch) / "assignments"
        # A scratch gradebook records the test cells as generated (AUTOTEST lines expanded with these salts).
        db_url = f"sqlite:///{Path(scratch) / 'gradebook.db'}"
        grading.release(course, names, release_dir=generated, quiet=quiet, db_url=db_url)
        checks = check(course, names, generated, Path(scratch) / "submissions", jobs=jobs, limits=limits,
                       progress=progress, db_url=db_url)
        outcome = CheckedRelease(checks, [])
        if not outcome.passed:
            return outcome
        destination.mkdir(parents=True, exist_ok=True)
        for name in names:
            _install(generated / name, destination / name)
            outcome.written.extend(sorted((destination / name).glob("*.ipynb")))
    return outcome
