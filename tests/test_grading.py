"""The whole instructor pipeline on a class of made-up students, with real nbgrader and real kernels.

One batch is graded once (module fixture) and the tests read its results: the instructor's solution
scores full automatic marks, the untouched student version scores zero, each deliberately wrong
implementation loses the points of the part it breaks, a malformed notebook is named and skipped while
the others are graded, no submission file changes, and feedback shows no hidden test.
"""

from __future__ import annotations

import csv
import hashlib
import html
import re
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, copy_course, run_autograder

# student id -> (solution cell, [(text in the instructor's solution, replacement)], test cells that must score 0)
MUTANTS = {
    "wrong_sign": ("gradient_descent", [("x = x - learning_rate * gradient(x)", "x = x + learning_rate * gradient(x)")],
                   ["test_gradient_descent"]),
    "no_start_point": ("gradient_descent", [("path = [x.copy()]", "path = []")], ["test_gradient_descent"]),
    "ignores_learning_rate": ("gradient_descent_1d", [("x = x - learning_rate * derivative(x)", "x = x - derivative(x)")],
                              ["test_gradient_descent_1d"]),
    "forward_difference": ("numerical_derivative", [("return (f(x + h) - f(x - h)) / (2 * h)",
                                                     "return (f(x + h) - f(x)) / h")], ["test_numerical_derivative"]),
    # The last two pass every visible test: only the hidden tests catch them.
    "modifies_x0": ("gradient_descent", [("x = np.array(x0, dtype=float)", "x = np.asarray(x0, dtype=float)"),
                                         ("x = x - learning_rate * gradient(x)", "x -= learning_rate * gradient(x)")],
                    ["test_gradient_descent", "test_learning_rate_study"]),
    "integer_gradient": ("numerical_gradient", [("gradient = np.zeros(point.shape)",
                                                 "gradient = np.zeros_like(np.asarray(x))")], ["test_numerical_gradient"]),
    "wrong_threshold": ("divergence_threshold", [("divergence_threshold = 0.5", "divergence_threshold = 1.0")],
                        ["test_divergence_threshold"]),
}
PASS_VISIBLE_TESTS = ["integer_gradient", "wrong_threshold"]


def mutate(notebook: nbformat.NotebookNode, grade_id: str, edits: list[tuple[str, str]]) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            for old, new in edits:
                assert old in cell.source, f"the solution of {grade_id} changed: update MUTANTS in {__file__}"
                cell.source = cell.source.replace(old, new)
            return notebook
    raise AssertionError(f"no cell {grade_id} in the instructor notebook")


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("class") / "course")
    submissions = course.parent / "inbox"
    source = course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    released = course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

    def submit(student: str, notebook_or_text) -> Path:
        folder = submissions / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / f"{ASSIGNMENT}.ipynb"
        if isinstance(notebook_or_text, str):
            path.write_text(notebook_or_text)
        else:
            nbformat.write(notebook_or_text, path)
        return path

    submit("solution", nbformat.read(source, as_version=4))
    submit("untouched", nbformat.read(released, as_version=4))
    for student, (grade_id, edits, _) in MUTANTS.items():
        submit(student, mutate(nbformat.read(source, as_version=4), grade_id, edits))
    broken = submit("broken_json", released.read_text()[:500])
    before = fingerprint(submissions)

    result = run_autograder("--quiet", "grade", ASSIGNMENT, "--submissions", str(submissions), cwd=course)
    with (course / "grades" / f"{ASSIGNMENT}.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return {"course": course, "submissions": submissions, "result": result, "rows": rows, "broken": broken,
            "before": before, "source": source}


def automatic_parts(row: dict) -> dict[str, str]:
    return {name: value for name, value in row.items() if name.startswith("test_")}


def test_solution_scores_full_automatic_marks(graded):
    row = graded["rows"]["solution"]
    notebook = nbformat.read(graded["source"], as_version=4)
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in notebook.cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    assert {name: float(value) for name, value in automatic_parts(row).items()} == points
    assert row["needs_manual_grade"] == "yes" and row["written_two_valleys"] == ""
    assert float(row["score"]) == sum(points.values()) and float(row["max_score"]) == 20


def test_untouched_student_version_scores_zero(graded):
    row = graded["rows"]["untouched"]
    assert float(row["score"]) == 0
    assert all(float(value) == 0 for value in automatic_parts(row).values())
    assert row["needs_manual_grade"] == "no"  # an unanswered written part needs no reading


@pytest.mark.parametrize("student", sorted(MUTANTS))
def test_each_wrong_implementation_loses_the_part_it_breaks(graded, student):
    row = graded["rows"][student]
    broken_parts = MUTANTS[student][2]
    for name, value in automatic_parts(row).items():
        if name in broken_parts:
            assert float(value) == 0, f"{student}: {name} should fail"
    solution = graded["rows"]["solution"]
    assert float(row["score"]) < float(solution["score"])


def test_malformed_notebook_is_named_and_the_rest_are_graded(graded):
    result = graded["result"]
    assert result.returncode == 1
    assert f"{graded['broken']}: not a valid notebook: broken JSON" in result.stderr
    assert graded["rows"]["broken_json"]["status"].startswith("not graded: ")
    assert graded["rows"]["broken_json"]["score"] == ""
    graded_students = {s for s, row in graded["rows"].items() if row["score"] != ""}
    assert graded_students == {"solution", "untouched", *MUTANTS}


def test_no_submission_file_is_changed_or_deleted(graded):
    assert fingerprint(graded["submissions"]) == graded["before"]


def test_grades_are_in_the_sqlite_gradebook(graded):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{graded['course'] / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert scores["solution"] == float(graded["rows"]["solution"]["score"])
    assert "broken_json" not in scores


@pytest.mark.parametrize("student", PASS_VISIBLE_TESTS)
def test_hidden_tests_catch_what_visible_tests_miss(graded, student, tmp_path):
    grade_id, edits, _ = MUTANTS[student]
    released = graded["course"] / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    student_version = nbformat.read(released, as_version=4)
    solution = nbformat.read(graded["source"], as_version=4)
    # The student's notebook: the released version with the wrong solution typed into its cells.
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    for cell in student_version.cells:
        grade = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade in answers:
            cell.source = re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", answers[grade])
    mutate(student_version, grade_id, edits)
    path = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(student_version, path)
    result = run_autograder("validate", str(path))
    assert result.returncode == 0, result.stdout
    assert float(graded["rows"][student]["score"]) < float(graded["rows"]["solution"]["score"])


def test_feedback_shows_no_hidden_test_source_or_expected_values(graded):
    course = graded["course"]
    autograded = nbformat.read(course / "autograded" / "wrong_threshold" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    hidden_line = "assert_close(divergence_threshold, 0.5"
    # Control: plain nbgrader keeps the failing hidden line, with its expected 0.5, in the traceback.
    tracebacks = "".join("".join(o.get("traceback", [])) for c in autograded.cells for o in c.get("outputs", []))
    assert hidden_line in re.sub(r"\x1b\[[0-9;]*m", "", tracebacks)

    source = nbformat.read(graded["source"], as_version=4)
    released = "\n".join(cell.source for cell in nbformat.read(
        course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells)
    hidden_lines = {line.strip() for cell in source.cells if "BEGIN HIDDEN TESTS" in cell.source
                    for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
                    .splitlines() if len(line.strip()) > 12 and line.strip() not in released}
    assert len(hidden_lines) > 20
    for student in ["solution", "untouched", *MUTANTS]:
        page = (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        text = visible_text(page)
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"{student}'s feedback shows hidden test code: {leaked[:3]}"
        assert "BEGIN HIDDEN TESTS" not in text and "Expected" not in text
    text = visible_text((course / "feedback" / "wrong_threshold" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "CheckFailure: divergence_threshold: the value is not close to the correct result." in text
    assert "Returned: 1" not in text  # details beyond the first line stay out of hidden-test feedback


def test_report_after_manual_grading_updates_the_csv(graded):
    from nbgrader.api import Gradebook
    course = graded["course"]
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
