"""The course's nbgrader settings, and writing grading results into nbgrader's gradebook.

Scores go through nbgrader's own database models, so Formgrader, manual grading, feedback and
``nbgrader export`` see them as they see nbgrader's. One submission is written in one transaction: a grader
killed at any moment leaves each submission either as it was or fully updated, and grading again gives the
same rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import api
from nbgrader.api import Gradebook, MissingEntry

from .cells import is_answer, is_locked, is_test, nbgrader_meta
from .runner import SubmissionResult

# A test the grader could not carry out (a limit of the grader's, not the student's fault): scored 0 until a
# person looks at it.
GRADER_LIMIT = "grader limit"


@dataclass(frozen=True)
class CourseSettings:
    root: Path
    course_id: str
    db_url: str
    cell_seconds: float
    autograded_directory: str
    feedback_directory: str
    submitted_directory: str
    release_directory: str
    # nbgrader's LateSubmissionPlugin as the config sets it (AssignLatePenalties.plugin_class; default: no penalty)
    late_plugin: object = field(default=None, compare=False)

    def gradebook(self) -> Gradebook:
        return Gradebook(self.db_url, self.course_id)

    def autograded(self, student: str, assignment: str) -> Path:
        return self.root / self.autograded_directory / student / assignment


def load_settings(course: Path) -> CourseSettings:
    """Read nbgrader_config.py the way nbgrader does (the database URL may point anywhere, PostgreSQL included)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course = Path(course).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config() \
        if (course / "nbgrader_config.py").is_file() else Config()
    directory = CourseDirectory(config=config)
    if "CourseDirectory" not in config or "root" not in config.CourseDirectory:
        directory.root = str(course)
    timeout = config.Execute.timeout if "Execute" in config and "timeout" in config.Execute else 30
    from nbgrader.preprocessors import AssignLatePenalties
    penalties = AssignLatePenalties(config=config)
    penalties.init_plugin()
    return CourseSettings(Path(directory.root).resolve(), directory.course_id or "default_course", directory.db_url,
                          float(timeout or 30), directory.autograded_directory, directory.feedback_directory,
                          directory.submitted_directory, directory.release_directory, penalties.plugin_inst)


def write_notebook_atomically(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".ipynb")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            nbformat.write(nbformat.from_dict(notebook), stream)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _submission(gradebook: Gradebook, assignment: str, student: str) -> api.SubmittedAssignment:
    """The student's submission with a row for every notebook, grade and comment of the assignment (not committed).

    Missing rows are added, so a submission recorded before the assignment gained a part is completed.
    """
    try:
        record = gradebook.find_student(student)
    except MissingEntry:
        record = api.Student(id=student)
        gradebook.db.add(record)
    with gradebook.db.no_autoflush:  # rows are linked first, then added together
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            submission = api.SubmittedAssignment(assignment=gradebook.find_assignment(assignment), student=record)
            gradebook.db.add(submission)
        rows = []
        for notebook in submission.assignment.notebooks:
            submitted = next((n for n in submission.notebooks if n.notebook_id == notebook.id), None)
            if submitted is None:
                submitted = api.SubmittedNotebook(notebook=notebook, assignment=submission)
                rows.append(submitted)
            graded = {grade.cell_id for grade in submitted.grades}
            commented = {comment.cell_id for comment in submitted.comments}
            for cell in list(notebook.grade_cells) + list(notebook.task_cells):
                if cell.id not in graded:
                    rows.append(api.Grade(cell_id=cell.id, notebook=submitted))
            for cell in list(notebook.solution_cells) + list(notebook.task_cells):
                if cell.id not in commented:
                    rows.append(api.Comment(cell_id=cell.id, notebook=submitted))
        gradebook.db.add_all(rows)  # SQLAlchemy 2 no longer adds objects linked through a backref
    gradebook.db.flush()
    return submission


def final_score(submission) -> float:
    """A submitted assignment's score after its late penalty (points nbgrader's late plugin took off when it was
    recorded), as Formgrader shows it."""
    return (submission.score or 0.0) - (submission.late_submission_penalty or 0.0)


def answer_fingerprints(notebook: dict) -> dict[str, str]:
    """What the student wrote for each graded part of a graded notebook: one fingerprint per grade id.

    notebook: an autograded notebook (the submission put back in the assignment's shape)
    An answer cell counts its own source; a task cell, every cell the student could write in (its answer may be
    anywhere in the notebook); an automatic test, all of the student's code, which is what its score depends on.
    """
    cells = notebook.get("cells", []) if notebook else []

    def source(cell) -> str:
        text = cell.get("source", "")
        return ("".join(text) if isinstance(text, list) else str(text)).strip()

    def digest(parts: list) -> str:
        return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()

    written = [[cell.get("cell_type"), source(cell)] for cell in cells
               if is_answer(nbgrader_meta(cell)) or not is_locked(nbgrader_meta(cell))]
    code = [pair for pair in written if pair[0] == "code"]
    fingerprints = {}
    for cell in cells:
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        if meta.get("task"):
            fingerprints[grade_id] = digest(written)
        elif is_answer(meta) and meta.get("grade"):
            fingerprints[grade_id] = digest([[cell.get("cell_type"), source(cell)]])
        elif is_test(meta):
            fingerprints[grade_id] = digest(code)
    return fingerprints


def record(gradebook: Gradebook, results: list[SubmissionResult], timestamp=None,
           late_plugin=None, previous: dict[str, dict[str, str] | None] | None = None) -> dict | None:
    """Write one student's results for one assignment (one result per notebook) in a single transaction.

    Every automatic score is set from this run, zero where a test did not run, so nothing stale survives.
    A part waiting for a person (a written answer, a task cell, a test the grader could not carry out) is
    marked for manual grading. A part a person scored by hand (``manual_score``, as Formgrader stores it) keeps
    that score and its comment: while what the student wrote for it is unchanged it also keeps its review flag
    as the person left it; when it changed, it is marked for review again.
    timestamp: when the work was submitted (naive UTC); with the assignment's due date it says how late it is
    late_plugin: nbgrader's LateSubmissionPlugin; a late notebook gets its penalty, capped at its score
    previous: per notebook, the :func:`answer_fingerprints` of the submission graded last time (None where
        unknown: a part scored by hand is then marked for review)
    Returns the submission's lateness: seconds_late and late_penalty (points off the score).
    """
    if not results:
        return None
    assignment, student = results[0].assignment, results[0].student
    previous = previous or {}
    try:
        submission = _submission(gradebook, assignment, student)
        submission.timestamp = timestamp
        by_notebook = {result.notebook: result for result in results}
        for notebook in submission.notebooks:
            result = by_notebook.get(notebook.name)
            tests = {test.grade_id: test for test in result.tests} if result else {}
            now = answer_fingerprints(result.autograded) if result is not None and result.autograded else {}
            before = previous.get(notebook.name) or {}
            tasks = {cell.name for cell in notebook.notebook.task_cells}
            for grade in notebook.grades:
                test = tests.get(grade.name)
                if test is None and grade.name in tasks and now:
                    grade.auto_score = None  # a task's answer is in the notebook, which was read: a person grades it
                elif test is None or test.status == "not run":
                    grade.auto_score = 0.0
                elif test.status == "needs manual grading":
                    grade.auto_score = None
                elif test.status == GRADER_LIMIT:
                    grade.auto_score = 0.0
                else:
                    grade.auto_score = test.score
                if grade.manual_score is not None:
                    fingerprint = now.get(grade.name)
                    if fingerprint is None or fingerprint != before.get(grade.name):
                        grade.needs_manual_grade = True  # graded by hand, then changed: a second look
                    # unchanged: the person's score and flag stand
                else:
                    grade.needs_manual_grade = grade.auto_score is None or \
                        (test is not None and test.status == GRADER_LIMIT)
            for comment in notebook.comments:
                test = tests.get(comment.name)
                comment.auto_comment = "No response." if test is not None and test.status == "no response" else None
            if result is not None and any(f.seen != "in the notebook" or f.kind == "edited a test cell"
                                          for f in result.findings):
                notebook.flagged = True
        seconds_late = submission.total_seconds_late
        penalty_total = 0.0
        for notebook in submission.notebooks:  # as nbgrader's AssignLatePenalties
            notebook.late_submission_penalty = None
            if seconds_late > 0 and late_plugin is not None:
                score = sum((g.manual_score if g.manual_score is not None else g.auto_score) or 0.0
                            for g in notebook.grades)
                penalty = late_plugin.late_submission_penalty(student, score, seconds_late)
                if penalty is not None:
                    notebook.late_submission_penalty = min(max(float(penalty), 0.0), score)
                    penalty_total += notebook.late_submission_penalty
        gradebook.db.commit()
        return {"seconds_late": seconds_late, "late_penalty": penalty_total}
    except BaseException:
        gradebook.db.rollback()
        raise
