"""Instructor pipeline: release with nbgrader, grade a class in sandboxes, write feedback and grade files.

nbgrader keeps what it is good at: generating student versions, the gradebook (SQLite by default, any
``db_url``), Formgrader and manual grading, feedback. Grading itself is done here (:mod:`autograder.runner`):
student code runs in a sandbox, tests and scores stay in the grader's process, several submissions at once.
Every submission in the folder (or each one asked for) gets a result, a broken one included (zero, with the
reason), so a batch always finishes and no stale automatic score survives a re-grade; a score given by hand stays,
marked for review again if the answer it was given for changed. Submissions are only read.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from . import notebooks, parallel, sandbox
from .cells import nbgrader_meta
from .feedback import write_unreadable_pages
from .gradebook import (GRADER_LIMIT, CourseSettings, answer_fingerprints, final_score, load_settings, record,
                        write_notebook_atomically)
from .runner import Limits, SubmissionResult


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
            quiet: bool = False, record_in_gradebook: bool = False, db_url: str | None = None) -> list[Path]:
    """Generate student versions from source/ with nbgrader; return the notebooks written.

    release_dir: where the student versions go (default: the course's assignments/)
    record_in_gradebook: also record the cells in the course's gradebook (grading needs them). Off by default,
        so that releasing never touches the gradebook, nor is refused because submissions exist.
    db_url: record the cells in this gradebook instead (a scratch one: the release check reads the test cells as
        nbgrader recorded them, AUTOTEST lines expanded with the same salts as the student versions)
    """
    available = source_assignments(course)
    names = names or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise GradingError(f"No assignment {', '.join(unknown)} in {course / 'source'}; "
                           f"available: {', '.join(available) or 'none'}")
    release_dir = Path(release_dir or course / "assignments").resolve()
    # Without the gradebook, one nbgrader run generates every assignment (seconds instead of a minute).
    everything = not record_in_gradebook and set(names) == set(available)
    database = [f"--CourseDirectory.db_url={db_url}"] if db_url else [] if record_in_gradebook else ["--no-db"]
    for name in ["*"] if everything else names:
        result = run_nbgrader(course, "generate_assignment", name, "--force",
                              f"--CourseDirectory.release_directory={release_dir}", *database, quiet=quiet)
        if result.returncode != 0:
            detail = f"\n{result.stderr}" if quiet and result.stderr else ""
            raise GradingError(f"nbgrader could not generate {name} (exit {result.returncode}){detail}")
    written = []
    for name in names:
        for path in sorted((release_dir / name).glob("*.ipynb")):
            notebooks.write(notebooks.clean(notebooks.read_notebook(path), keep_outputs=False), path)
            written.append(path)
    return written


STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")


@dataclass
class Intake:
    """What was found in a submissions folder before grading."""
    gradable: list[str] = field(default_factory=list)  # students with a folder for the assignment
    problems: dict[str, list[str]] = field(default_factory=dict)  # student -> messages
    failures: list[str] = field(default_factory=list)  # steps that did not finish
    missing: dict[str, list[str]] = field(default_factory=dict)  # student -> notebooks not handed in
    integrity: list[dict] = field(default_factory=list)  # suspicious acts found, one row each
    earlier: dict[str, list[str]] = field(default_factory=dict)  # problems of the last grading, kept in statuses

    def add(self, student: str, message: str) -> None:
        self.problems.setdefault(student, []).append(message)

    def exclude_options(self) -> list[str]:
        """nbgrader options leaving out the students who have no graded submission."""
        excluded = sorted(set(self.problems) - set(self.gradable))
        return [f"--CourseDirectory.student_id_exclude={','.join(excluded)}"] if excluded else []


def inspect_submissions(submissions: Path, assignment: str, expected: list[str]) -> Intake:
    """Find every student's folder and the notebooks in it (reading them is the grader's job).

    submissions: folder laid out as <student>/<assignment>/<notebook>.ipynb
    expected: notebook names (without .ipynb) that the assignment has
    """
    intake = Intake()
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        student = student_dir.name
        if not STUDENT_ID.match(student):
            intake.add(student, f"{student_dir}: {student!r} is not a usable student id (letters, digits and . _ @ + -)")
            continue
        folder = student_dir / assignment
        if not folder.is_dir():
            intake.add(student, f"{folder}: missing (no submission for {assignment})")
            continue
        for name in expected:
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb"))) or "no notebooks"
                intake.add(student, f"{path}: missing (found {found}); graded as 0 for this notebook")
                intake.missing.setdefault(student, []).append(name)
        intake.gradable.append(student)
    return intake


def expected_notebooks(course: Path, assignment: str) -> list[str]:
    return sorted(p.stem for p in (course / "source" / assignment).glob("*.ipynb"))


def ensure_in_gradebook(course: Path, assignment: str, quiet: bool, settings: CourseSettings | None = None) -> None:
    """Record the assignment's cells in the gradebook if they are not there yet (a fresh clone, or an assignment
    that `nbgrader db assignment add` created with only a due date, which is kept)."""
    settings = settings or load_settings(course)
    with settings.gradebook() as gradebook:
        try:
            recorded = gradebook.find_assignment(assignment).notebooks
        except MissingEntry:
            recorded = []
    if recorded and not stale_cells(course, assignment, settings):
        return
    # Generating into a scratch folder records the cells without touching assignments/.
    scratch = course / settings.autograded_directory / ".release"
    release(course, [assignment], release_dir=scratch, quiet=quiet, record_in_gradebook=True)


def recorded_sources(settings: CourseSettings, assignment: str, db_url: str | None = None) -> dict[str, dict[str, str]]:
    """notebook -> grade id -> source of each test and locked cell as generate_assignment recorded it in the
    gradebook (AUTOTEST lines expanded, hidden tests kept): what nbgrader's autograder restores and runs.

    db_url: another gradebook than the course's
    """
    with (Gradebook(db_url, settings.course_id) if db_url else settings.gradebook()) as gradebook:
        try:
            notebooks_ = gradebook.find_assignment(assignment).notebooks
        except MissingEntry:
            return {}
        return {notebook.name: {cell.name: cell.source for cell in notebook.source_cells if cell.locked}
                for notebook in notebooks_}


def stale_cells(course: Path, assignment: str, settings: CourseSettings) -> list[str]:
    """Test and locked cells of source/ that the gradebook holds in another version, or not at all (the instructor
    edited them after the assignment was recorded). Cells with AUTOTEST lines differ by design and are not compared.
    """
    from .runner import AUTOTEST_LINE
    recorded = recorded_sources(settings, assignment)
    stale = []
    for name in expected_notebooks(course, assignment):
        cells = recorded.get(name, {})
        for cell in nbformat.read(course / "source" / assignment / f"{name}.ipynb", as_version=4).cells:
            meta = nbgrader_meta(cell)
            grade_id = meta.get("grade_id")
            if not grade_id or not (meta.get("locked") or meta.get("grade")) or meta.get("solution") \
                    or AUTOTEST_LINE.search(cell.source):
                continue
            if cells.get(grade_id) != cell.source:
                stale.append(f"{name}/{grade_id}")
    return stale


@dataclass
class GradeRow:
    student: str
    status: str
    score: float | None
    max_score: float
    needs_manual_grade: bool
    parts: dict[str, float | None]


def graded_parts(settings: CourseSettings, assignment: str, notebook) -> list:
    """A gradebook notebook's graded parts, its grade cells and its task cells, in the instructor notebook's order.

    notebook: an ``nbgrader.api.Notebook``; a part the instructor notebook does not hold comes last
    """
    cells = list(notebook.grade_cells) + list(notebook.task_cells)
    try:
        source = nbformat.read(settings.root / "source" / assignment / f"{notebook.name}.ipynb", as_version=4)
        order = {nbgrader_meta(cell).get("grade_id"): index for index, cell in enumerate(source.cells)}
    except Exception:  # no instructor notebook here: the gradebook's order
        order = {}
    return sorted(cells, key=lambda cell: order.get(cell.name, len(order)))


def grader_limits(settings: CourseSettings, assignment: str, student: str) -> dict[tuple[str, str], str]:
    """The tests the grader could not carry out in a student's latest grading: (notebook, grade id) -> message."""
    path = results_folder(settings, assignment) / f"{student}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {(notebook["notebook"], test["grade_id"]): " ".join(str(test.get("message") or "").split())
                for notebook in data.get("notebooks", []) for test in notebook.get("tests", [])
                if test.get("status") == GRADER_LIMIT}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def collect_grades(settings: CourseSettings, assignment: str, intake: Intake) -> tuple[list[str], list[GradeRow]]:
    """Scores per student and per graded part from the gradebook; students who could not be graded get a status.

    Parts are grade cells and task cells. A part waiting for a person has no score in its column, unless a person
    scored it before (that score counts, and shows, until they look again). A test the grader could not carry
    out is named in the status while it waits: ``needs manual review: <grade id>: <message>``.
    """
    rows = []
    with settings.gradebook() as gradebook:
        record_ = gradebook.find_assignment(assignment)
        part_names = [cell.name for nb in record_.notebooks for cell in graded_parts(settings, assignment, nb)]
        max_score = record_.max_score
        for student in sorted(set(intake.gradable) | set(intake.problems)):
            issues = intake.problems.get(student, []) + intake.earlier.get(student, [])
            if student not in intake.gradable:
                rows.append(GradeRow(student, "not graded: " + " | ".join(issues), None, max_score, False,
                                     {name: None for name in part_names}))
                continue
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                rows.append(GradeRow(student, "not graded: no result was recorded", None,
                                     max_score, False, {name: None for name in part_names}))
                continue
            # A part still waiting for a person has no score yet (nbgrader stores 0 until then).
            parts = {grade.name: None if grade.needs_manual_grade and grade.manual_score is None else grade.score
                     for notebook in submission.notebooks for grade in notebook.grades}
            waiting = {(notebook.name, grade.name) for notebook in submission.notebooks for grade in notebook.grades
                       if grade.needs_manual_grade}
            needs_manual = submission.needs_manual_grade
            status = "needs manual grading" if needs_manual else "graded"
            for (notebook_name, grade_id), message in grader_limits(settings, assignment, student).items():
                if (notebook_name, grade_id) in waiting:
                    status += f", needs manual review: {grade_id}" + (f": {message}" if message else "")
            penalty = submission.late_submission_penalty or 0.0
            if submission.total_seconds_late > 0:  # the score is what remains after the penalty
                status += f", late by {late_by(submission.total_seconds_late)}"
                status += f", {penalty:g} points off" if penalty else " (no penalty)"
            if issues:
                status += ", with problems: " + " | ".join(issues)
            rows.append(GradeRow(student, status, final_score(submission), max_score, needs_manual, parts))
    return part_names, rows


def late_by(seconds: float) -> str:
    """A lateness for people: whole seconds, rounded up (0.2 s late is late), e.g. 0:00:03 or 1 day, 2:00:00."""
    return str(timedelta(seconds=math.ceil(seconds)))


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


def results_folder(settings: CourseSettings, assignment: str) -> Path:
    """Where each submission's JSON result and the class-wide reports go: grades/<assignment>/."""
    return settings.root / "grades" / assignment


def result_json(results: list[SubmissionResult]) -> dict:
    """A submission's result as plain JSON (what a script or an LMS integration reads)."""
    first = results[0]
    return {
        "student_id": first.student, "assignment": first.assignment,
        "score": sum(r.score for r in results), "max_score": sum(r.max_score for r in results),
        "needs_manual_grade": any(t.score is None or t.status == GRADER_LIMIT for r in results for t in r.tests),
        "notebooks": [{
            "notebook": r.notebook, "score": r.score, "max_score": r.max_score, "seconds": round(r.seconds, 3),
            "tests": [{"grade_id": t.grade_id, "points": t.points, "score": t.score, "status": t.status,
                       "message": t.message} for t in r.tests],
            "problems": r.problems,
            "cell_warnings": [str(w) for w in r.cell_warnings],
            "integrity": [{"kind": f.kind, "cell": f.cell, "seen": f.seen, "detail": f.detail} for f in r.findings],
            # what was graded, part by part: the next grading keeps a score given by hand while this is unchanged
            "answer_fingerprints": answer_fingerprints(r.autograded) if r.autograded is not None else {},
        } for r in results],
    }


def graded_before(settings: CourseSettings, assignment: str, student: str,
                  notebook_names: list[str]) -> dict[str, dict[str, str] | None]:
    """What the last grading of a student's notebooks saw: notebook -> its answer fingerprints (None: unknown).

    They come from the student's JSON result. For a result written without them (an earlier version of this
    grader, or nbgrader's own autograde), from the autograded notebook still in place, unless that notebook is
    newer than the result: a grading that stopped before its end wrote it, and it may never have been recorded.
    """
    recorded: dict[str, dict[str, str] | None] = {}
    path = results_folder(settings, assignment) / f"{student}.json"
    try:
        for entry in json.loads(path.read_text(encoding="utf-8")).get("notebooks", []):
            if isinstance(entry.get("answer_fingerprints"), dict):
                recorded[entry["notebook"]] = entry["answer_fingerprints"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    result_time = path.stat().st_mtime_ns if path.is_file() else None
    for name in notebook_names:
        if name in recorded:
            continue
        autograded = settings.autograded(student, assignment) / f"{name}.ipynb"
        try:
            if result_time is not None and autograded.stat().st_mtime_ns > result_time:
                raise ValueError("written by a grading that did not finish")
            recorded[name] = answer_fingerprints(nbformat.read(autograded, as_version=4))
        except Exception:
            recorded[name] = None
    return recorded


def store(settings: CourseSettings, assignment: str, student: str, results: list[SubmissionResult],
          submitted_folder: Path) -> None:
    """Write a student's autograded notebooks, then their gradebook rows (one transaction), then their JSON.

    The JSON is written last, so the answers it records as graded are never newer than the gradebook's rows.
    """
    previous = graded_before(settings, assignment, student, [result.notebook for result in results])
    destination = settings.autograded(student, assignment)
    for result in results:
        if result.autograded is not None:
            write_notebook_atomically(result.autograded, destination / f"{result.notebook}.ipynb")
        else:
            stale = destination / f"{result.notebook}.ipynb"
            if stale.exists():
                stale.unlink()  # feedback from an earlier run must not outlive this result
    # nbgrader's submit writes the secret that names the feedback in the exchange; release_feedback reads it
    # from feedback/, where generate_feedback copies it from autograded/.
    secret_file = submitted_folder / "submission_secret.txt"
    if secret_file.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(secret_file, destination / "submission_secret.txt")
    elif (destination / "submission_secret.txt").exists():
        (destination / "submission_secret.txt").unlink()  # an earlier submission's
    timestamp_file = submitted_folder / "timestamp.txt"
    timestamp = None
    if timestamp_file.is_file():
        destination.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(timestamp_file, destination / "timestamp.txt")
        from nbgrader.utils import parse_utc
        try:
            timestamp = parse_utc(timestamp_file.read_text().strip())
        except Exception:
            timestamp = None
    with settings.gradebook() as gradebook:
        lateness = record(gradebook, results, timestamp, settings.late_plugin, previous)
    folder = results_folder(settings, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{student}.json.tmp"
    data = result_json(results)
    data.update({"submitted_at": None if timestamp is None else f"{timestamp.isoformat()} UTC", **(lateness or {})})
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, folder / f"{student}.json")


def check_sandbox() -> None:
    """Fail before grading anything when the sandbox cannot start (student code never runs without it)."""
    try:
        outcome, _ = sandbox.run_python("print('ready')", sandbox.Limits(wall_seconds=60))
    except sandbox.SandboxUnavailable as error:
        raise GradingError(f"Student code cannot be sandboxed here, so nothing was graded: {error}") from None
    if outcome.stdout.strip() != "ready":
        raise GradingError("Student code cannot be sandboxed here, so nothing was graded: a test program in the "
                           f"sandbox failed (exit {outcome.returncode}): {outcome.stderr.strip()[-500:]}")


def grade(course: Path, assignment: str, submissions: Path | None = None, csv_path: Path | None = None,
          quiet: bool = False, jobs: int | None = None, limits: Limits | None = None, progress: bool = True,
          feedback: bool = True, students: list[str] | None = None) -> tuple[list[GradeRow], Intake, Path]:
    """Grade every submission in sandboxes, write feedback and a CSV of grades; return the rows, intake and CSV.

    submissions: folder laid out as <student>/<assignment>/<notebook>.ipynb (default: the course's submitted/);
        it is only read, so no submission file is changed.
    jobs: notebooks graded at once (default: one per core)
    students: grade only these (each must have a folder in ``submissions``); everyone else's gradebook rows,
        JSON result and feedback stay as they are, and the CSV lists them as the gradebook has them
    """
    course = Path(course).resolve()
    settings = load_settings(course)
    if assignment not in source_assignments(course):
        raise GradingError(f"No assignment {assignment} in {course / 'source'}; "
                           f"available: {', '.join(source_assignments(course)) or 'none'}")
    submissions = Path(submissions or settings.root / settings.submitted_directory).resolve()
    if not submissions.is_dir():
        raise GradingError(f"No submissions folder {submissions}: expected <student>/{assignment}/*.ipynb inside.")
    expected = expected_notebooks(course, assignment)
    released_folder = (course / settings.release_directory / assignment).resolve()
    for name in expected:
        if not (released_folder / f"{name}.ipynb").is_file():
            raise GradingError(f"{released_folder / (name + '.ipynb')} is missing: run `autograder release "
                               f"{assignment}` first (grading compares submissions with the released version).")
    intake = inspect_submissions(submissions, assignment, expected)
    if not intake.gradable and not intake.problems:
        raise GradingError(f"{submissions} holds no student folders.")
    chosen = list(dict.fromkeys(students)) if students else None
    if chosen is not None:
        unknown = [s for s in chosen if s not in intake.gradable and s not in intake.problems]
        if unknown:
            raise GradingError(f"No submission folder for {', '.join(unknown)} in {submissions}, so nothing was "
                               "graded: --student takes the name of a student's folder there.")
        intake = Intake(gradable=[s for s in intake.gradable if s in chosen],
                        problems={s: p for s, p in intake.problems.items() if s in chosen},
                        missing={s: m for s, m in intake.missing.items() if s in chosen})
    check_sandbox()
    ensure_in_gradebook(course, assignment, quiet, settings)
    recorded = recorded_sources(settings, assignment)
    limits = limits or Limits(cell_seconds=settings.cell_seconds)
    work = [parallel.Job(student, assignment, str(submissions / student / assignment / f"{name}.ipynb"),
                         str(course / "source" / assignment / f"{name}.ipynb"),
                         str(released_folder / f"{name}.ipynb"), str(released_folder), limits, recorded.get(name))
            for student in intake.gradable for name in expected if name not in intake.missing.get(student, [])]
    collected: dict[str, list[SubmissionResult]] = {student: [] for student in intake.gradable}
    for student in intake.gradable:  # a notebook not handed in scores zero, recorded like any other result
        for name in intake.missing.get(student, []):
            job = parallel.Job(student, assignment, "", str(course / "source" / assignment / f"{name}.ipynb"),
                               "", None, Limits())
            collected[student].append(parallel.failed_result(job, "the notebook was not handed in"))
        if len(collected[student]) == len(expected):
            store(settings, assignment, student, collected[student], submissions / student / assignment)

    def on_result(job: parallel.Job, result: SubmissionResult) -> None:
        collected[job.student].append(result)
        for problem in result.problems:
            intake.add(job.student, problem)
        if len(collected[job.student]) == len(expected):
            store(settings, assignment, job.student, collected[job.student], submissions / job.student / assignment)

    workers = jobs or os.cpu_count() or 1
    meter = parallel.Progress(f"Grading {assignment}", len(work), enabled=progress)
    parallel.run(work, workers, on_result, meter)
    graded_now = list(intake.gradable)
    if chosen is not None:  # the rest of the class, as the gradebook and their last results have it
        rest = class_in_gradebook(settings, assignment, exclude=set(chosen))
        intake.gradable.extend(rest.gradable)
        intake.earlier.update(rest.earlier)
    return report(course, assignment, intake, csv_path, quiet, feedback=feedback, settings=settings, jobs=workers,
                  feedback_for=graded_now)


def integrity_rows(settings: CourseSettings, assignment: str, students: list[str]) -> list[dict]:
    """Every finding of the latest grading of these students, from their JSON results."""
    rows = []
    for student in students:
        path = results_folder(settings, assignment) / f"{student}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for notebook in data.get("notebooks", []):
            for finding in notebook.get("integrity", []):
                rows.append({"student_id": student, "notebook": notebook["notebook"], **finding})
    return rows


def pass_rates(settings: CourseSettings, assignment: str, students: list[str]) -> list[dict]:
    """Per graded part: how many of these students earned full marks, and the mean score (what the class misses)."""
    rows = []
    with settings.gradebook() as gradebook:
        record_ = gradebook.find_assignment(assignment)
        for notebook in record_.notebooks:
            for cell in graded_parts(settings, assignment, notebook):
                scores = []
                for student in students:
                    try:
                        grade = gradebook.find_grade(cell.name, notebook.name, assignment, student)
                    except MissingEntry:
                        continue
                    if not grade.needs_manual_grade:
                        scores.append(grade.score)
                full = sum(1 for score in scores if score >= cell.max_score - 1e-9)
                rows.append({"notebook": notebook.name, "part": cell.name, "points": cell.max_score,
                             "graded": len(scores), "full_marks": full,
                             "pass_rate": round(full / len(scores), 3) if scores else None,
                             "mean_score": round(sum(scores) / len(scores), 3) if scores else None})
    return rows


def _write_rows(path: Path, rows: list[dict], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})


def generate_feedback(course: Path, assignment: str, students: list[str], quiet: bool, jobs: int,
                      others: list[str] = ()) -> list[str]:
    """nbgrader generate_feedback for these students, split over ``jobs`` processes; return what failed.

    others: students with an autograded notebook whose feedback is left as it is
    """
    students = sorted(students)
    groups = [students[i::max(1, jobs)] for i in range(max(1, min(jobs, len(students))))]
    processes = []
    for group in groups:
        excluded = sorted({s for s in students if s not in group} | set(others))
        command = [sys.executable, "-m", "nbgrader", "generate_feedback", assignment, "--force",
                   f"--CourseDirectory.student_id_exclude={','.join(excluded)}"]
        output = subprocess.PIPE if quiet else None
        processes.append(subprocess.Popen(command, cwd=course, stdout=output, stderr=output, text=True))
    failures = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            detail = f": {err.strip()[-500:]}" if quiet and err else ""
            failures.append(f"nbgrader generate_feedback exited with {process.returncode}{detail}")
    return failures


def class_in_gradebook(settings: CourseSettings, assignment: str, exclude: set[str] = frozenset()) -> Intake:
    """Every student with a recorded submission of ``assignment`` (but those excluded), with the problems their
    last grading found (from their JSON results), which stay in the status column."""
    with settings.gradebook() as gradebook:
        try:
            students = [s.student.id for s in gradebook.assignment_submissions(assignment)]
        except MissingEntry:
            students = []
    intake = Intake(gradable=[s for s in students if s not in exclude])
    for student in intake.gradable:
        path = results_folder(settings, assignment) / f"{student}.json"
        if path.is_file():
            for notebook in json.loads(path.read_text(encoding="utf-8")).get("notebooks", []):
                for problem in notebook.get("problems", []):
                    intake.earlier.setdefault(student, []).append(problem)
    return intake


def report(course: Path, assignment: str, intake: Intake | None = None, csv_path: Path | None = None,
           quiet: bool = False, feedback: bool = True, settings: CourseSettings | None = None,
           jobs: int | None = None, feedback_for: list[str] | None = None) -> tuple[list[GradeRow], Intake, Path]:
    """Write feedback and the grade files from the gradebook as it is now (e.g. after manual grading).

    intake: what grading found; by default, every student with a graded submission of ``assignment``
    feedback_for: the students whose feedback is written (default: every graded student in the intake)
    Files: grades/<assignment>.csv (one row per student), grades/<assignment>/pass_rates.csv,
    grades/<assignment>/integrity.csv and grades/<assignment>/<student>.json (written when graded).
    """
    course = Path(course).resolve()
    settings = settings or load_settings(course)
    if intake is None:
        intake = class_in_gradebook(settings, assignment)
        if not intake.gradable:
            raise GradingError(f"{assignment} has not been graded yet: run `autograder grade {assignment}` first.")
    with_notebooks = [s for s in (intake.gradable if feedback_for is None else feedback_for)
                      if settings.autograded(s, assignment).is_dir()
                      and any(settings.autograded(s, assignment).glob("*.ipynb"))]
    if feedback and with_notebooks:
        autograded = settings.root / settings.autograded_directory
        others = [p.name for p in autograded.iterdir() if p.name not in with_notebooks and (p / assignment).is_dir()]
        intake.failures.extend(generate_feedback(course, assignment, with_notebooks, quiet,
                                                 jobs or os.cpu_count() or 1, others))
    if feedback:  # a notebook that could not be read or was not handed in: nbgrader has nothing to write from
        for student in intake.gradable if feedback_for is None else feedback_for:
            write_unreadable_pages(settings, assignment, student,
                                   results_folder(settings, assignment) / f"{student}.json")
    part_names, rows = collect_grades(settings, assignment, intake)
    csv_path = Path(csv_path or settings.root / "grades" / f"{assignment}.csv").resolve()
    write_csv(csv_path, assignment, part_names, rows)
    folder = results_folder(settings, assignment)
    _write_rows(folder / "pass_rates.csv", pass_rates(settings, assignment, intake.gradable),
                ["notebook", "part", "points", "graded", "full_marks", "pass_rate", "mean_score"])
    intake.integrity = integrity_rows(settings, assignment, intake.gradable)
    _write_rows(folder / "integrity.csv", intake.integrity,
                ["student_id", "notebook", "kind", "cell", "seen", "detail"])
    return rows, intake, csv_path
