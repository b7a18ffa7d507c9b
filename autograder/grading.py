"""Instructor pipeline around real nbgrader: release, grade a folder of submissions, export grades.

nbgrader does the work (gradebook in SQLite, autograde, feedback); this module adds what a class
needs around it: checking every submission before grading so one broken file is reported by name
instead of failing the batch, and a CSV with a row per student and a column per graded part.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from . import notebooks


# nbgrader looks up its `alembic` tool on PATH when it creates a gradebook; make sure the tools
# installed next to this interpreter are found even when the environment was not activated.
_TOOLS = str(Path(sys.executable).parent)
if _TOOLS not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _TOOLS + os.pathsep + os.environ.get("PATH", "")


class GradingError(Exception):
    """The pipeline cannot go on; the message says why and what to do."""


def find_course_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding nbgrader_config.py."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise GradingError(f"No nbgrader_config.py in {here} or above: run this inside the course folder "
                       "or pass --course.")


def run_nbgrader(course: Path, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course folder; its log goes to the terminal unless ``quiet``."""
    command = [sys.executable, "-m", "nbgrader", *args]
    output = subprocess.PIPE if quiet else None
    return subprocess.run(command, cwd=course, stdout=output, stderr=output, text=True, check=False)


def source_assignments(course: Path) -> list[str]:
    """Names of the assignments in source/ (folders holding at least one notebook)."""
    source = course / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
        if source.is_dir() else []


def release(course: Path, names: list[str] | None = None, release_dir: Path | None = None,
            quiet: bool = False, record_in_gradebook: bool = False) -> list[Path]:
    """Generate student versions from source/ with nbgrader; return the notebooks written.

    release_dir: where the student versions go (default: the course's assignments/)
    record_in_gradebook: also record the cells in the course's gradebook (grading needs them). Off by default,
        so that releasing never touches the gradebook, nor is refused because submissions exist.
    """
    available = source_assignments(course)
    names = names or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise GradingError(f"No assignment {', '.join(unknown)} in {course / 'source'}; "
                           f"available: {', '.join(available) or 'none'}")
    release_dir = Path(release_dir or course / "assignments").resolve()
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        database = [] if record_in_gradebook else [f"--CourseDirectory.db_url=sqlite:///{scratch}/release.db"]
        for name in names:
            result = run_nbgrader(course, "generate_assignment", name, "--force",
                                  f"--CourseDirectory.release_directory={release_dir}", *database, quiet=quiet)
            if result.returncode != 0:
                detail = f"\n{result.stderr}" if quiet and result.stderr else ""
                raise GradingError(f"nbgrader could not generate {name} (exit {result.returncode}){detail}")
            for path in sorted((release_dir / name).glob("*.ipynb")):
                notebooks.write(notebooks.clean(notebooks.read_notebook(path), keep_outputs=False), path)
                written.append(path)
    return written


@dataclass
class Intake:
    """What was found in a submissions folder before grading."""
    gradable: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)  # student -> messages
    failures: list[str] = field(default_factory=list)  # nbgrader steps that did not finish

    def add(self, student: str, message: str) -> None:
        self.problems.setdefault(student, []).append(message)

    def exclude_options(self) -> list[str]:
        """nbgrader options leaving out the students whose submissions could not be graded."""
        excluded = sorted(set(self.problems) - set(self.gradable))
        return [f"--CourseDirectory.student_id_exclude={','.join(excluded)}"] if excluded else []


def inspect_submissions(submissions: Path, assignment: str, expected: list[str]) -> Intake:
    """Check every student's folder: each expected notebook present and readable.

    submissions: folder laid out as <student>/<assignment>/<notebook>.ipynb
    expected: notebook names (without .ipynb) that the assignment has
    """
    intake = Intake()
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        student = student_dir.name
        folder = student_dir / assignment
        if not folder.is_dir():
            intake.add(student, f"{folder}: missing (no submission for {assignment})")
            continue
        broken = False
        for name in expected:
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb"))) or "no notebooks"
                intake.add(student, f"{path}: missing (found {found}); graded as 0 for this notebook")
                continue
            try:
                notebooks.read_notebook(path)
            except notebooks.NotebookError as error:
                intake.add(student, str(error))
                broken = True
        if not broken:
            intake.gradable.append(student)
    return intake


def expected_notebooks(course: Path, assignment: str) -> list[str]:
    return sorted(p.stem for p in (course / "source" / assignment).glob("*.ipynb"))


def ensure_in_gradebook(course: Path, assignment: str, quiet: bool) -> None:
    """Record the assignment's cells in the gradebook if it is not there yet (a fresh clone)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    # Generating into a scratch folder records the cells without touching assignments/.
    scratch = course / "autograded" / ".release"
    release(course, [assignment], release_dir=scratch, quiet=quiet, record_in_gradebook=True)


@dataclass
class GradeRow:
    student: str
    status: str
    score: float | None
    max_score: float
    needs_manual_grade: bool
    parts: dict[str, float | None]


def collect_grades(course: Path, assignment: str, intake: Intake) -> tuple[list[str], list[GradeRow]]:
    """Scores per student and per graded part from the gradebook; students who could not be graded get a status."""
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        record = gradebook.find_assignment(assignment)
        part_names = [cell.name for nb in record.notebooks for cell in nb.grade_cells]
        max_score = record.max_score
        for student in sorted(set(intake.gradable) | set(intake.problems)):
            issues = intake.problems.get(student, [])
            if student not in intake.gradable:
                rows.append(GradeRow(student, "not graded: " + " | ".join(issues), None, max_score, False,
                                     {name: None for name in part_names}))
                continue
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                rows.append(GradeRow(student, "not graded: nbgrader did not record a submission", None,
                                     max_score, False, {name: None for name in part_names}))
                continue
            # A part still waiting for a person has no score yet (nbgrader stores 0 until then).
            parts = {grade.name: None if grade.needs_manual_grade else grade.score
                     for notebook in submission.notebooks for grade in notebook.grades}
            needs_manual = submission.needs_manual_grade
            status = "needs manual grading" if needs_manual else "graded"
            if issues:
                status += " (" + " | ".join(issues) + ")"
            rows.append(GradeRow(student, status, submission.score, max_score, needs_manual, parts))
    return part_names, rows


def write_csv(path: Path, assignment: str, part_names: list[str], rows: list[GradeRow]) -> None:
    """One row per student: total, maximum, manual-grading flag, status, then one column per graded part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "assignment", "score", "max_score", "needs_manual_grade", "status",
                         *part_names])
        for row in rows:
            score = "" if row.score is None else f"{row.score:g}"
            writer.writerow([row.student, assignment, score, f"{row.max_score:g}",
                             "yes" if row.needs_manual_grade else "no", row.status,
                             *("" if row.parts.get(name) is None else f"{row.parts[name]:g}"
                               for name in part_names)])


def grade(course: Path, assignment: str, submissions: Path | None = None, csv_path: Path | None = None,
          quiet: bool = False) -> tuple[list[GradeRow], Intake, Path]:
    """Autograde every submission, write feedback and a CSV of grades; return the rows, intake and CSV path.

    submissions: folder laid out as <student>/<assignment>/<notebook>.ipynb (default: course/submitted);
        nbgrader only reads it, so no submission file is changed.
    """
    course = Path(course).resolve()
    if assignment not in source_assignments(course):
        raise GradingError(f"No assignment {assignment} in {course / 'source'}; "
                           f"available: {', '.join(source_assignments(course)) or 'none'}")
    submissions = Path(submissions or course / "submitted").resolve()
    if not submissions.is_dir():
        raise GradingError(f"No submissions folder {submissions}: expected <student>/{assignment}/*.ipynb inside.")
    intake = inspect_submissions(submissions, assignment, expected_notebooks(course, assignment))
    if not intake.gradable and not intake.problems:
        raise GradingError(f"{submissions} holds no student folders.")
    ensure_in_gradebook(course, assignment, quiet)

    if intake.gradable:
        result = run_nbgrader(course, "autograde", assignment, "--force",
                              f"--CourseDirectory.submitted_directory={submissions}", *intake.exclude_options(),
                              quiet=quiet)
        if result.returncode != 0:
            intake.failures.append(f"nbgrader autograde exited with {result.returncode}")
    return report(course, assignment, intake, csv_path, quiet)


def report(course: Path, assignment: str, intake: Intake | None = None, csv_path: Path | None = None,
           quiet: bool = False) -> tuple[list[GradeRow], Intake, Path]:
    """Write feedback and the CSV from the gradebook as it is now (e.g. after manual grading in Formgrader).

    intake: what grading found; by default, every student with a graded submission of ``assignment``
    """
    course = Path(course).resolve()
    if intake is None:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            try:
                students = [s.student.id for s in gradebook.assignment_submissions(assignment)]
            except MissingEntry:
                students = []
        if not students:
            raise GradingError(f"{assignment} has not been graded yet: run `autograder grade {assignment}` first.")
        intake = Intake(gradable=students)
    if intake.gradable:
        # Students whose submission could not be graded get no stale feedback from an earlier run.
        result = run_nbgrader(course, "generate_feedback", assignment, "--force", *intake.exclude_options(),
                              quiet=quiet)
        if result.returncode != 0:
            intake.failures.append(f"nbgrader generate_feedback exited with {result.returncode}")
    part_names, rows = collect_grades(course, assignment, intake)
    csv_path = Path(csv_path or course / "grades" / f"{assignment}.csv").resolve()
    write_csv(csv_path, assignment, part_names, rows)
    return rows, intake, csv_path
