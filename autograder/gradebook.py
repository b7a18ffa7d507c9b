"""The course's nbgrader settings, and writing grading results into nbgrader's gradebook.

Scores go through nbgrader's own database models, so Formgrader, manual grading, feedback and
``nbgrader export`` see them as they see nbgrader's. One submission is written in one transaction: a grader
killed at any moment leaves each submission either as it was or fully updated, and grading again gives the
same rows.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader import api
from nbgrader.api import Gradebook, MissingEntry

from .runner import SubmissionResult


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


def record(gradebook: Gradebook, results: list[SubmissionResult], timestamp=None,
           late_plugin=None) -> dict | None:
    """Write one student's results for one assignment (one result per notebook) in a single transaction.

    Every automatic score is set from this run, zero where a test did not run, so nothing stale survives.
    A part a grader scored by hand keeps its manual score and is marked for review, as nbgrader does.
    timestamp: when the work was submitted (naive UTC); with the assignment's due date it says how late it is
    late_plugin: nbgrader's LateSubmissionPlugin; a late notebook gets its penalty, capped at its score
    Returns the submission's lateness: seconds_late and late_penalty (points off the score).
    """
    if not results:
        return None
    assignment, student = results[0].assignment, results[0].student
    try:
        submission = _submission(gradebook, assignment, student)
        submission.timestamp = timestamp
        by_notebook = {result.notebook: result for result in results}
        for notebook in submission.notebooks:
            result = by_notebook.get(notebook.name)
            tests = {test.grade_id: test for test in result.tests} if result else {}
            for grade in notebook.grades:
                test = tests.get(grade.name)
                if test is None or test.status == "not run":
                    grade.auto_score = 0.0
                elif test.status == "needs manual grading":
                    grade.auto_score = None
                else:
                    grade.auto_score = test.score
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
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
