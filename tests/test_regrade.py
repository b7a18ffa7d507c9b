"""Grading again after a person graded by hand, and grading some students only.

A class of three solutions of the gradient-descent assignment is graded, scored by hand through nbgrader's
Gradebook exactly as Formgrader stores it, then graded again: alice handed in the same work, bob rewrote his
written answer, carol edited her code. A score given by hand stays in every case; it keeps its review flag only
while what it was given for is unchanged (the written answer's own text; for a test cell, the student's code).
``--student`` grades the named students and leaves everyone else's files and rows as they were. Task cells and
tests the grader could not carry out are recorded from hand-made results, through the same ``store``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder import grading, lms, runner  # importing the package puts nbgrader's alembic tool on PATH for Gradebook
from autograder.gradebook import GRADER_LIMIT, answer_fingerprints, load_settings
from conftest import ASSIGNMENT, ROOT, copy_course, notebook_path, run_autograder

GRADE = ("--quiet", "grade", ASSIGNMENT, "--jobs", "2")
WRITTEN = "written_two_valleys"
# (student, part) -> (score, comment) given by hand; the tests are automatic parts a person overrode.
BY_HAND = {("alice", WRITTEN): (2, "Right idea, no example."), ("alice", "test_numerical_derivative"): (1, None),
           ("bob", WRITTEN): (3, "Complete."), ("bob", "test_gradient_descent"): (2, None),
           ("carol", WRITTEN): (1, "Only half of it."), ("carol", "test_numerical_gradient"): (0, None)}


def gradebook_rows(course: Path) -> dict[tuple[str, str], tuple]:
    """(student, part) -> (automatic score, manual score, needs manual grade, manual comment), read only."""
    with closing(sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT student.id, base_cell.name, grade.auto_score, grade.manual_score, grade.needs_manual_grade, "
            "comment.manual_comment FROM grade "
            "JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id "
            # a written answer's comment hangs on its solution cell, a base cell of the same name
            "LEFT JOIN base_cell AS commented ON commented.name = base_cell.name "
            "AND commented.notebook_id = base_cell.notebook_id AND commented.type != 'GradeCell' "
            "LEFT JOIN comment ON comment.cell_id = commented.id AND comment.notebook_id = grade.notebook_id"
        ).fetchall()
    return {(student, part): (auto, manual, bool(needs), comment)
            for student, part, auto, manual, needs, comment in rows}


def read_csv(path: Path) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def grade_by_hand(course: Path, scores: dict) -> None:
    """What Formgrader stores when a person scores a part: manual_score, the comment, needs_manual_grade False."""
    with load_settings(course).gradebook() as gradebook:
        for (student, part), (score, comment) in scores.items():
            grade = gradebook.find_grade(part, ASSIGNMENT, ASSIGNMENT, student)
            grade.manual_score = score
            grade.needs_manual_grade = False
            if comment is not None:
                gradebook.find_comment(part, ASSIGNMENT, ASSIGNMENT, student).manual_comment = comment
        gradebook.db.commit()


def edit_cell(path: Path, grade_id: str, edit) -> None:
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = edit(cell.source)
    nbformat.write(notebook, path)


def export_rows(course: Path) -> dict[str, dict]:
    result = run_autograder("--course", str(course), "export")
    assert result.returncode == 0, result.stderr
    return read_csv(course / "grades" / "lms.csv")


@dataclass
class Regraded:
    course: Path
    inbox: Path
    first: dict  # gradebook rows after the first grading
    scored: dict  # after the scores by hand
    second: dict  # after grading again
    third: dict  # after grading a third time, nothing changed
    csv_first: dict
    csv_second: dict
    export: dict  # autograder export after grading again
    json_first: dict  # student -> JSON result
    json_second: dict
    json_third: dict


def results(course: Path) -> dict[str, dict]:
    folder = course / "grades" / ASSIGNMENT
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


@pytest.fixture(scope="module")
def regraded(tmp_path_factory) -> Regraded:
    workspace = tmp_path_factory.mktemp("regrade")
    course = copy_course(workspace / "course")
    inbox = workspace / "inbox"
    solution = nbformat.read(notebook_path(course / "source", ASSIGNMENT), as_version=4)
    for student in ("alice", "bob", "carol"):
        path = notebook_path(inbox / student, ASSIGNMENT)
        path.parent.mkdir(parents=True)
        nbformat.write(solution, path)

    first_run = run_autograder(*GRADE, "--submissions", str(inbox), cwd=course)
    assert first_run.returncode == 0, first_run.stderr
    first, csv_first, json_first = gradebook_rows(course), read_csv(course / "grades" / f"{ASSIGNMENT}.csv"), \
        results(course)
    grade_by_hand(course, BY_HAND)
    scored = gradebook_rows(course)

    edit_cell(notebook_path(inbox / "bob", ASSIGNMENT), WRITTEN,
              lambda source: "Gradient descent follows the slope down, so it stops in whichever valley it starts in.")
    edit_cell(notebook_path(inbox / "carol", ASSIGNMENT), "numerical_gradient",
              lambda source: source + "\n# checked against numerical_derivative on each axis")
    second_run = run_autograder(*GRADE, "--no-feedback", "--submissions", str(inbox), cwd=course)
    assert second_run.returncode == 0, second_run.stderr
    second, csv_second, json_second = gradebook_rows(course), read_csv(course / "grades" / f"{ASSIGNMENT}.csv"), \
        results(course)
    export = export_rows(course)
    third_run = run_autograder(*GRADE, "--no-feedback", "--submissions", str(inbox), cwd=course)
    assert third_run.returncode == 0, third_run.stderr
    return Regraded(course, inbox, first, scored, second, gradebook_rows(course), csv_first, csv_second, export,
                    json_first, json_second, results(course))


def test_a_first_grading_leaves_written_answers_to_a_person(regraded):
    for student in ("alice", "bob", "carol"):
        assert regraded.first[(student, WRITTEN)] == (None, None, True, None)
        assert regraded.first[(student, "test_numerical_derivative")] == (2, None, False, None)
        assert regraded.csv_first[student]["score"] == "17" and regraded.csv_first[student][WRITTEN] == ""
        assert regraded.csv_first[student]["status"] == "needs manual grading"
        fingerprints = regraded.json_first[student]["notebooks"][0]["answer_fingerprints"]
        assert set(fingerprints) == {t["grade_id"] for t in regraded.json_first[student]["notebooks"][0]["tests"]}
    # The same work gives the same fingerprints; a written answer's own fingerprint differs from the code's.
    prints = [regraded.json_first[s]["notebooks"][0]["answer_fingerprints"] for s in ("alice", "bob", "carol")]
    assert prints[0] == prints[1] == prints[2]
    assert prints[0][WRITTEN] != prints[0]["test_numerical_derivative"] == prints[0]["test_gradient_descent"]


def test_an_unchanged_submission_keeps_every_score_comment_and_flag_given_by_hand(regraded):
    alice = lambda rows: {part: row for (student, part), row in rows.items() if student == "alice"}
    assert alice(regraded.second) == alice(regraded.scored)  # every row as the person left it
    for part in (WRITTEN, "test_numerical_derivative"):
        score, comment = BY_HAND[("alice", part)]
        assert regraded.second[("alice", part)][1:] == (score, False, comment)
    assert regraded.second[("alice", WRITTEN)][0] is None  # the automatic side is as any grading sets it
    assert regraded.second[("alice", "test_numerical_derivative")][0] == 2
    row = regraded.csv_second["alice"]
    assert (row["score"], row["needs_manual_grade"], row["status"]) == ("18", "no", "graded")
    assert (row[WRITTEN], row["test_numerical_derivative"]) == ("2", "1")
    assert regraded.export["alice"][ASSIGNMENT] == "18" and regraded.export["alice"]["pending_manual"] == ""


def test_a_changed_written_answer_keeps_its_old_score_and_is_flagged(regraded):
    assert regraded.second[("bob", WRITTEN)] == (None, 3, True, "Complete.")
    # bob's code did not change, so the test a person overrode keeps the override and its flag
    assert regraded.second[("bob", "test_gradient_descent")] == (4, 2, False, None)
    row = regraded.csv_second["bob"]
    assert (row["score"], row["needs_manual_grade"], row["status"]) == ("18", "yes", "needs manual grading")
    assert row[WRITTEN] == "3"  # the old score stays visible until a person looks again
    assert regraded.export["bob"][ASSIGNMENT] == "18" and regraded.export["bob"]["pending_manual"] == ASSIGNMENT


def test_changed_code_flags_the_tests_a_person_overrode_but_not_an_unchanged_written_answer(regraded):
    assert regraded.second[("carol", "test_numerical_gradient")] == (3, 0, True, None)
    assert regraded.second[("carol", WRITTEN)] == (None, 1, False, "Only half of it.")
    # tests nobody overrode are automatic: no flag whatever the code
    assert regraded.second[("carol", "test_gradient_descent")] == (4, None, False, None)
    row = regraded.csv_second["carol"]
    assert (row["score"], row["needs_manual_grade"], row["test_numerical_gradient"]) == ("15", "yes", "0")
    assert regraded.export["carol"]["pending_manual"] == ASSIGNMENT


def test_grading_again_changes_nothing_more(regraded):
    assert regraded.third == regraded.second
    strip = lambda data: [dict(n, seconds=0) for n in data["notebooks"]]
    assert all(strip(regraded.json_third[s]) == strip(regraded.json_second[s]) for s in regraded.json_second)
    # Only the rows of the parts scored by hand differ from the first grading (nothing else was touched).
    changed = {key for key in regraded.second if regraded.second[key] != regraded.first[key]}
    assert changed == set(BY_HAND)


def stamp(path: Path) -> tuple[int, bytes]:
    return path.stat().st_mtime_ns, path.read_bytes()


def test_student_option_grades_only_the_named_students(regraded, tmp_path):
    course, inbox = tmp_path / "course", tmp_path / "inbox"
    shutil.copytree(regraded.course, course)
    shutil.copytree(regraded.inbox, inbox)
    # Both alice and bob hand in something new; only alice is graded.
    edit_cell(notebook_path(inbox / "alice", ASSIGNMENT), WRITTEN, lambda source: "A new answer from alice.")
    edit_cell(notebook_path(inbox / "bob", ASSIGNMENT), WRITTEN, lambda source: "A new answer from bob.")
    files = lambda student: [course / "grades" / ASSIGNMENT / f"{student}.json",
                             course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html",
                             course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"]
    before = {path: stamp(path) for student in ("alice", "bob", "carol") for path in files(student)}
    rows_before, csv_before = gradebook_rows(course), read_csv(course / "grades" / f"{ASSIGNMENT}.csv")

    result = run_autograder(*GRADE, "--submissions", str(inbox), "--student", "alice", cwd=course)
    assert result.returncode == 0, result.stderr

    for student in ("bob", "carol"):
        assert all(stamp(path) == before[path] for path in files(student)), f"{student}'s files were rewritten"
    assert all(stamp(path) != before[path] for path in files("alice"))
    rows = gradebook_rows(course)
    assert {k: v for k, v in rows.items() if k[0] != "alice"} == {k: v for k, v in rows_before.items()
                                                                  if k[0] != "alice"}
    assert rows[("alice", WRITTEN)] == (None, 2, True, "Right idea, no example.")  # graded: changed, so flagged
    table = read_csv(course / "grades" / f"{ASSIGNMENT}.csv")
    assert list(table) == ["alice", "bob", "carol"]  # the whole class
    assert table["bob"] == csv_before["bob"] and table["carol"] == csv_before["carol"]
    assert table["alice"]["needs_manual_grade"] == "yes" and table["alice"][WRITTEN] == "2"

    alice_now = {path: stamp(path) for path in files("alice")}
    result = run_autograder(*GRADE, "--no-feedback", "--submissions", str(inbox), "--student", "bob",
                            "--student", "carol", cwd=course)
    assert result.returncode == 0, result.stderr
    assert all(stamp(path) == alice_now[path] for path in files("alice"))
    bob_result = json.loads(files("bob")[0].read_text())
    assert bob_result["notebooks"][0]["answer_fingerprints"] != \
        json.loads(before[files("bob")[0]][1])["notebooks"][0]["answer_fingerprints"]
    assert gradebook_rows(course)[("bob", WRITTEN)] == (None, 3, True, "Complete.")


def test_an_unknown_student_is_an_error_and_nothing_is_graded(regraded, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(regraded.course, course)
    watched = [course / "gradebook.db", course / "grades" / f"{ASSIGNMENT}.csv",
               course / "grades" / ASSIGNMENT / "alice.json"]
    before = [stamp(path) for path in watched]
    result = run_autograder(*GRADE, "--submissions", str(regraded.inbox), "--student", "alice",
                            "--student", "zoe", cwd=course)
    assert result.returncode == 2
    assert f"No submission folder for zoe in {regraded.inbox.resolve()}" in result.stderr
    assert [stamp(path) for path in watched] == before


# --- task cells and tests the grader could not carry out, recorded from hand-made results ---------------------

HOMEWORK = "hw"
LIMIT_MESSAGE = "The grader ran out of memory (its 4 GiB limit) before this test finished; check it by hand."


def nbgrader_cell(cell, **flags):
    meta = {"grade": False, "solution": False, "locked": False, "task": False, "schema_version": 3, **flags}
    cell.metadata["nbgrader"] = meta
    return cell


def homework(explanation: str, code: str = "def double(x):\n    return 2 * x") -> nbformat.NotebookNode:
    """A graded notebook: an answer, two tests, a task cell (3 points) and the student's own text answering it."""
    new_code, new_markdown = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    return nbformat.v4.new_notebook(cells=[
        nbgrader_cell(new_markdown("# Doubling"), grade_id="intro", locked=True),
        nbgrader_cell(new_code(code), grade_id="double", solution=True),
        nbgrader_cell(new_code("assert double(2) == 4"), grade_id="test_double", grade=True, locked=True, points=2),
        nbgrader_cell(new_code("assert double(10**9)"), grade_id="test_memory", grade=True, locked=True, points=1),
        nbgrader_cell(new_markdown("Explain why doubling is linear."), grade_id="task_explain", task=True,
                      locked=True, points=3),
        new_markdown(explanation),
    ])


def hand_made_result(notebook, tests: list[str] | None = None) -> runner.SubmissionResult:
    """What the runner returns for ``homework``: a pass, a grader limit and the task cell waiting for a person."""
    made = {"test_double": runner.TestResult("test_double", 2, 2.0, "passed"),
            "test_memory": runner.TestResult("test_memory", 1, 0.0, GRADER_LIMIT, LIMIT_MESSAGE, "MemoryError"),
            "task_explain": runner.TestResult("task_explain", 3, None, "needs manual grading")}
    return runner.SubmissionResult("ann", HOMEWORK, HOMEWORK, [made[name] for name in tests or made],
                                   autograded=notebook)


@pytest.fixture
def homework_course(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    source = course / "source" / HOMEWORK / f"{HOMEWORK}.ipynb"
    source.parent.mkdir(parents=True)
    nbformat.write(homework("(the student's answer)"), source)
    settings = load_settings(course)
    with settings.gradebook() as gradebook:
        gradebook.add_assignment(HOMEWORK)
        gradebook.add_notebook(HOMEWORK, HOMEWORK)
        gradebook.add_solution_cell("double", HOMEWORK, HOMEWORK)
        gradebook.add_grade_cell("test_double", HOMEWORK, HOMEWORK, max_score=2, cell_type="code")
        gradebook.add_grade_cell("test_memory", HOMEWORK, HOMEWORK, max_score=1, cell_type="code")
        gradebook.add_task_cell("task_explain", HOMEWORK, HOMEWORK, max_score=3, cell_type="markdown")
    return course


def store(course: Path, result: runner.SubmissionResult) -> None:
    grading.store(load_settings(course), HOMEWORK, "ann", [result], course / "submitted" / "ann" / HOMEWORK)


def homework_rows(course: Path) -> dict:
    return {part: row for (student, part), row in gradebook_rows(course).items()}


def homework_csv(course: Path) -> dict:
    settings = load_settings(course)
    parts, rows = grading.collect_grades(settings, HOMEWORK, grading.Intake(gradable=["ann"]))
    grading.write_csv(course / "grades" / f"{HOMEWORK}.csv", HOMEWORK, parts, rows)
    return read_csv(course / "grades" / f"{HOMEWORK}.csv")["ann"]


def test_task_cells_and_grader_limits_wait_for_a_person_and_are_named(homework_course):
    store(homework_course, hand_made_result(homework("Because 2(a + b) = 2a + 2b.")))
    assert homework_rows(homework_course) == {"test_double": (2, None, False, None),
                                              "test_memory": (0, None, True, None),
                                              "task_explain": (None, None, True, None)}
    row = homework_csv(homework_course)
    with (homework_course / "grades" / f"{HOMEWORK}.csv").open() as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == ["test_double", "test_memory", "task_explain"]  # a column per part, task cells too
    assert (row["score"], row["max_score"], row["needs_manual_grade"]) == ("2", "6", "yes")
    assert (row["test_double"], row["test_memory"], row["task_explain"]) == ("2", "", "")
    assert row["status"] == f"needs manual grading, needs manual review: test_memory: {LIMIT_MESSAGE}"
    data = json.loads((homework_course / "grades" / HOMEWORK / "ann.json").read_text())
    assert data["needs_manual_grade"] is True
    assert [(t["grade_id"], t["status"]) for t in data["notebooks"][0]["tests"]] == \
        [("test_double", "passed"), ("test_memory", GRADER_LIMIT), ("task_explain", "needs manual grading")]
    _, table = lms.lms_table(homework_course)
    assert table == [["ann", "2", "6", "2", "6", HOMEWORK]]


def test_a_task_cell_scored_by_hand_follows_the_students_own_cells(homework_course):
    store(homework_course, hand_made_result(homework("Because 2(a + b) = 2a + 2b.")))
    with load_settings(homework_course).gradebook() as gradebook:  # as Formgrader stores it
        task = gradebook.find_grade("task_explain", HOMEWORK, HOMEWORK, "ann")
        task.manual_score, task.needs_manual_grade = 2.5, False
        gradebook.find_comment("task_explain", HOMEWORK, HOMEWORK, "ann").manual_comment = "Say what linear means."
        limit = gradebook.find_grade("test_memory", HOMEWORK, HOMEWORK, "ann")
        limit.manual_score, limit.needs_manual_grade = 1, False
        gradebook.db.commit()

    store(homework_course, hand_made_result(homework("Because 2(a + b) = 2a + 2b.")))
    assert homework_rows(homework_course) == {"test_double": (2, None, False, None),
                                              "test_memory": (0, 1, False, None),
                                              "task_explain": (None, 2.5, False, "Say what linear means.")}
    row = homework_csv(homework_course)
    assert (row["score"], row["needs_manual_grade"], row["status"]) == ("5.5", "no", "graded")
    assert (row["test_memory"], row["task_explain"]) == ("1", "2.5")
    assert lms.lms_table(homework_course)[1] == [["ann", "5.5", "6", "5.5", "6", ""]]

    # A new explanation (the code is the same): the task is flagged, the test a person settled is not.
    store(homework_course, hand_made_result(homework("It is linear: 2(a + b) = 2a + 2b and 2(ca) = c(2a).")))
    assert homework_rows(homework_course)["task_explain"] == (None, 2.5, True, "Say what linear means.")
    assert homework_rows(homework_course)["test_memory"] == (0, 1, False, None)
    row = homework_csv(homework_course)
    assert (row["score"], row["needs_manual_grade"], row["task_explain"]) == ("5.5", "yes", "2.5")
    assert "needs manual review" not in row["status"]  # the grader limit was settled by a person

    # New code: the grader limit comes back for review (its score by hand still counts until then).
    store(homework_course, hand_made_result(homework("It is linear.", code="def double(x):\n    return x + x")))
    assert homework_rows(homework_course)["test_memory"] == (0, 1, True, None)
    row = homework_csv(homework_course)
    assert row["test_memory"] == "1" and f"needs manual review: test_memory: {LIMIT_MESSAGE}" in row["status"]


def test_a_task_cell_the_runner_did_not_list_still_waits_for_a_person(homework_course):
    store(homework_course, hand_made_result(homework("Because."), tests=["test_double", "test_memory"]))
    assert homework_rows(homework_course)["task_explain"] == (None, None, True, None)
    unreadable = runner.SubmissionResult("ann", HOMEWORK, HOMEWORK,
                                         [runner.TestResult("test_double", 2, 0.0, "not run")], readable=False)
    store(homework_course, unreadable)  # no notebook to read an answer in: nothing to grade
    assert homework_rows(homework_course)["task_explain"] == (0, None, False, None)


def test_fingerprints_follow_what_each_part_depends_on():
    base = answer_fingerprints(homework("Because."))
    assert set(base) == {"test_double", "test_memory", "task_explain"}
    other_text = answer_fingerprints(homework("Because it is."))
    assert other_text["task_explain"] != base["task_explain"] and other_text["test_double"] == base["test_double"]
    other_code = answer_fingerprints(homework("Because.", code="def double(x):\n    return x + x"))
    assert other_code["test_double"] != base["test_double"] and other_code["task_explain"] != base["task_explain"]
    assert answer_fingerprints(homework("Because.\n")) == base  # trailing whitespace is not a change


def test_a_result_recorded_without_fingerprints_falls_back_on_the_autograded_notebook(homework_course):
    """A course graded before fingerprints were kept: the notebook a person saw in Formgrader is what was graded,
    unless it is newer than the result (a grading that stopped half-way wrote it, and may never have recorded it)."""
    explained = homework("Because 2(a + b) = 2a + 2b.")
    store(homework_course, hand_made_result(explained))
    result_file = homework_course / "grades" / HOMEWORK / "ann.json"
    autograded = homework_course / "autograded" / "ann" / HOMEWORK / f"{HOMEWORK}.ipynb"

    def forget_fingerprints() -> None:
        data = json.loads(result_file.read_text())
        for notebook in data["notebooks"]:
            del notebook["answer_fingerprints"]
        result_file.write_text(json.dumps(data))

    with load_settings(homework_course).gradebook() as gradebook:
        task = gradebook.find_grade("task_explain", HOMEWORK, HOMEWORK, "ann")
        task.manual_score, task.needs_manual_grade = 2, False
        gradebook.db.commit()
    forget_fingerprints()
    store(homework_course, hand_made_result(explained))
    assert homework_rows(homework_course)["task_explain"] == (None, 2, False, None)

    forget_fingerprints()
    later = result_file.stat().st_mtime_ns + 1_000_000_000
    os.utime(autograded, ns=(later, later))
    store(homework_course, hand_made_result(explained))
    assert homework_rows(homework_course)["task_explain"] == (None, 2, True, None)
