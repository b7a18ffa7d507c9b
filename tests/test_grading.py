"""The instructor pipeline around nbgrader, on the gradient-descent class (see conftest.grade_class):
a malformed notebook is named and skipped while the others are graded, no submission file changes,
grades reach the SQLite gradebook and the CSV, feedback shows no hidden test, manual grades flow into reports."""

from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest

from conftest import ASSIGNMENT, copy_course, fingerprint, run_autograder
from test_feedback import external_resources, visible_text


@pytest.fixture(scope="module")
def graded(graded_class):
    return graded_class(ASSIGNMENT)


def test_malformed_notebook_is_named_and_the_rest_are_graded(graded):
    result = graded.result
    assert result.returncode == 1
    assert f"{graded.broken}: not a valid notebook: broken JSON" in result.stderr
    # Fail closed: the broken file scores zero with its reason, so no earlier score can survive.
    assert "with problems" in graded.rows["broken_json"]["status"]
    assert "not a valid notebook: broken JSON" in graded.rows["broken_json"]["status"]
    assert graded.rows["broken_json"]["score"] == "0"
    graded_students = {s for s, row in graded.rows.items() if row["score"] != ""}
    assert graded_students == set(graded.rows) and len(graded_students) > 3


def test_an_unreadable_notebook_lists_every_part_at_zero(graded):
    """Each test and written answer of the broken file is in its result, at zero and saying why, like a notebook
    that was never handed in: no part simply disappears from what the instructor and the student read."""
    data = json.loads((graded.course / "grades" / ASSIGNMENT / "broken_json.json").read_text())
    tests = data["notebooks"][0]["tests"]
    solution = json.loads((graded.course / "grades" / ASSIGNMENT / "solution.json").read_text())
    assert [t["grade_id"] for t in tests] == [t["grade_id"] for t in solution["notebooks"][0]["tests"]]
    assert all(t["score"] == 0 and t["message"] == "The notebook could not be read." for t in tests)
    assert data["score"] == 0 and data["max_score"] == solution["max_score"]


def test_no_submission_file_is_changed_or_deleted(graded):
    assert fingerprint(graded.submissions) == graded.before


def test_grades_are_in_the_sqlite_gradebook(graded):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert scores["solution"] == float(graded.rows["solution"]["score"])
    assert scores["broken_json"] == 0


def test_feedback_shows_no_hidden_test_source_or_expected_values(graded):
    course = graded.course
    autograded = nbformat.read(course / "autograded" / "wrong_threshold" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    hidden_line = "assert_close(divergence_threshold, 0.5"
    # Control: the instructor's autograded copy keeps the failing hidden line, with its expected 0.5.
    tracebacks = "".join("".join(o.get("traceback", [])) for c in autograded.cells for o in c.get("outputs", []))
    assert hidden_line in re.sub(r"\x1b\[[0-9;]*m", "", tracebacks)

    source = nbformat.read(graded.source, as_version=4)
    released = "\n".join(cell.source for cell in nbformat.read(graded.released, as_version=4).cells)
    # A hidden test's reference may repeat a line of the solution, which a student's own code holds too.
    released += "\n" + "\n".join(cell.source for cell in source.cells
                                  if cell.metadata.get("nbgrader", {}).get("solution"))
    hidden_lines = {line.strip() for cell in source.cells if "BEGIN HIDDEN TESTS" in cell.source
                    for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
                    .splitlines() if len(line.strip()) > 12 and line.strip() not in released}
    assert len(hidden_lines) > 20
    for student in set(graded.rows) - {"broken_json"}:  # a broken file has no notebook to give feedback on
        text = visible_text((course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test code: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text
        # Hidden checks never print an expected value; a visible failure shows it, as validate does
        # (tests/test_feedback.py).
    text = visible_text((course / "feedback" / "wrong_threshold" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "CheckFailure: divergence_threshold: the value is not close to the correct result." in text
    assert "Returned: 1" not in text  # details beyond the first line stay out of hidden-test feedback


def test_report_after_manual_grading_updates_the_csv(graded):
    from nbgrader.api import Gradebook
    course = graded.course
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        # What Formgrader does when an instructor scores the written answer.
        written = gradebook.find_grade("written_two_valleys", ASSIGNMENT, ASSIGNMENT, "solution")
        written.manual_score = 3
        written.needs_manual_grade = False
        gradebook.db.commit()
    result = run_autograder("--quiet", "report", ASSIGNMENT, cwd=course)
    assert result.returncode == 0, result.stderr
    with (course / "grades" / f"{ASSIGNMENT}.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["solution"]["score"] == "20" and rows["solution"]["needs_manual_grade"] == "no"
    assert rows["solution"]["written_two_valleys"] == "3"
    assert "Score: 3.0 / 3.0" in visible_text(
        (course / "feedback" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())


def test_grade_explains_unknown_assignments_and_missing_folders(tmp_path):
    course = copy_course(tmp_path / "course")
    result = run_autograder("grade", "ps9_nothing", cwd=course)
    assert result.returncode == 2 and "No assignment ps9_nothing" in result.stderr
    result = run_autograder("grade", ASSIGNMENT, "--submissions", str(tmp_path / "nowhere"), cwd=course)
    assert result.returncode == 2 and "No submissions folder" in result.stderr
    result = run_autograder("report", ASSIGNMENT, cwd=course)
    assert result.returncode == 2 and "has not been graded yet" in result.stderr


def test_release_still_works_after_submissions_are_graded(graded, tmp_path):
    import shutil
    course = tmp_path / "course"
    shutil.copytree(graded.course, course)
    notebook = nbformat.read(graded.source, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("An extra remark added after grading."))
    nbformat.write(notebook, course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    result = run_autograder("--quiet", "release", ASSIGNMENT, cwd=course)
    assert result.returncode == 0, result.stderr
    assert "An extra remark" in (course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()


# --- what the feedback pages tell (tests/test_feedback.py has the unit tests) ------------------------------

def test_a_failing_visible_test_shows_in_the_feedback_what_validate_shows(graded):
    submission = graded.submissions / "sign_1d" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    printed = run_autograder("validate", str(submission))
    block = re.search(r"^  FAIL  test_gradient_descent_1d \(3 points\)\n((?:        .*\n)+)", printed.stdout, re.M)
    assert block, printed.stdout
    message = [line.strip() for line in block.group(1).splitlines()]
    assert message[0].startswith("CheckFailure: gradient_descent_1d(") and \
        any(line.startswith("Expected") for line in message)
    page = visible_text((graded.course / "feedback" / "sign_1d" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "\n".join(message) in page


def test_every_page_of_the_class_is_self_contained_and_the_written_part_waits(graded):
    pages = sorted((graded.course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    assert len(pages) == len(graded.rows)  # the unreadable submission included
    for path in pages:
        assert not external_resources(path.read_text()), path
    # A student whose written answer stays ungraded here (test_report_after_manual_grading grades solution's).
    page = visible_text((graded.course / "feedback" / "sign_1d" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "Written response (Score: pending, out of 3.0)" in page and "3.0 points are pending" in page


def test_an_unreadable_submission_gets_a_page_saying_why_it_scored_zero_and_what_to_do(graded):
    page = visible_text((graded.course / "feedback" / "broken_json" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert f"{ASSIGNMENT} (Score: 0.0 / 20.0)" in page
    assert f"{ASSIGNMENT}.ipynb: not a valid notebook: broken JSON at line" in page
    assert str(graded.submissions) not in page  # the server's folders are not the student's business
    assert "What to do:" in page and "submit it again" in page
