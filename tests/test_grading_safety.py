"""Grading is safe with data: re-grading gives the same gradebook, a grader killed mid-run leaves it consistent,
a submission that breaks never keeps an earlier score, and without a sandbox nothing is graded at all."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import ASSIGNMENT, copy_course, fingerprint, mutate, notebook_path, run_autograder
from mutations import CATALOGUE

ARGS = ("--quiet", "grade", ASSIGNMENT, "--no-feedback", "--jobs", "2")


def make_class(course: Path, students: int) -> Path:
    """Solutions, untouched notebooks and mutants, in turn, for ``students`` students."""
    source, released = notebook_path(course / "source", ASSIGNMENT), notebook_path(course / "assignments", ASSIGNMENT)
    inbox = course / "inbox"
    mutants = CATALOGUE[ASSIGNMENT]
    for index in range(students):
        kind = index % 3
        if kind == 0:
            notebook = nbformat.read(source, as_version=4)
        elif kind == 1:
            notebook = nbformat.read(released, as_version=4)
        else:
            notebook = mutate(nbformat.read(source, as_version=4), mutants[index % len(mutants)])
        path = notebook_path(inbox / f"student{index:02d}", ASSIGNMENT)
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
    return inbox


def gradebook_rows(course: Path) -> list[tuple]:
    """Every grade row that matters: student, cell, automatic and manual score, review flag."""
    with sqlite3.connect(course / "gradebook.db") as db:
        return sorted(db.execute(
            "SELECT student.id, base_cell.name, grade.auto_score, grade.manual_score, grade.needs_manual_grade "
            "FROM grade JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id "
            "JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id "
            "JOIN student ON submitted_assignment.student_id = student.id "
            "JOIN base_cell ON grade.cell_id = base_cell.id").fetchall())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A class of 8 graded once from scratch: the gradebook every other run must reproduce."""
    course = copy_course(tmp_path_factory.mktemp("reference") / "course")
    inbox = make_class(course, 8)
    result = run_autograder(*ARGS, "--submissions", str(inbox), cwd=course)
    assert result.returncode == 0, result.stderr
    return course, gradebook_rows(course)


def test_grading_again_gives_the_same_gradebook_and_files(reference):
    course, rows = reference
    assert len(rows) == 8 * 7 and any(score for _, _, score, _, _ in rows)
    before = {p: p.read_text() for p in (course / "grades" / ASSIGNMENT).glob("*.json")}
    result = run_autograder(*ARGS, "--submissions", str(course / "inbox"), cwd=course)
    assert result.returncode == 0, result.stderr
    assert gradebook_rows(course) == rows
    after = {p: p.read_text() for p in (course / "grades" / ASSIGNMENT).glob("*.json")}
    strip = lambda text: [dict(n, seconds=0) for n in json.loads(text)["notebooks"]]
    assert before.keys() == after.keys() and all(strip(before[p]) == strip(after[p]) for p in before)


def test_a_grader_killed_mid_run_leaves_a_consistent_gradebook(reference, tmp_path):
    course = copy_course(tmp_path / "course")
    inbox = make_class(course, 8)
    command = [sys.executable, "-m", "autograder", *ARGS[:-1], "1", "--submissions", str(inbox)]
    grader = subprocess.Popen(command, cwd=course, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    results = course / "grades" / ASSIGNMENT
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    graded_before_kill = len(list(results.glob("*.json")))
    assert 2 <= graded_before_kill < 8, "the kill should land in the middle of the batch"
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    time.sleep(1)
    leftovers = subprocess.run(["pgrep", "-f", str(course)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], "a sandbox outlived the killed grader"
    result = run_autograder(*ARGS, "--submissions", str(inbox), cwd=course)
    assert result.returncode == 0, result.stderr
    assert gradebook_rows(course) == reference[1]


def test_a_submission_that_now_crashes_keeps_no_earlier_score(reference, tmp_path):
    course = copy_course(tmp_path / "course")
    inbox = make_class(course, 3)
    assert run_autograder(*ARGS, "--submissions", str(inbox), cwd=course).returncode == 0
    earlier = {cell: score for student, cell, score, _, _ in gradebook_rows(course) if student == "student00"}
    assert earlier["test_gradient_descent"] == 4
    # student00 resubmits: the same solutions behind a cell that ends the process.
    path = notebook_path(inbox / "student00", ASSIGNMENT)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(3, nbformat.v4.new_code_cell("import os\nos._exit(3)"))
    nbformat.write(notebook, path)
    before = fingerprint(inbox)
    result = run_autograder(*ARGS, "--submissions", str(inbox), cwd=course)
    assert result.returncode == 1 and "student00" in result.stderr and "process ended" in result.stderr
    now = {cell: score for student, cell, score, _, _ in gradebook_rows(course) if student == "student00"}
    assert all(score == 0 for cell, score in now.items() if cell.startswith("test_")), now
    data = json.loads((course / "grades" / ASSIGNMENT / "student00.json").read_text())
    reasons = {test["message"] for test in data["notebooks"][0]["tests"] if test["status"] == "not run"}
    assert reasons and all("process ended" in reason for reason in reasons)
    assert {"ended the process early"} <= {f["kind"] for f in data["notebooks"][0]["integrity"]}
    assert fingerprint(inbox) == before


def test_without_a_sandbox_nothing_is_graded(tmp_path):
    course = copy_course(tmp_path / "course")
    inbox = make_class(course, 1)
    environment = dict(os.environ, PATH=str(Path(sys.executable).parent))  # no bwrap on this PATH
    result = subprocess.run([sys.executable, "-m", "autograder", *ARGS, "--submissions", str(inbox)], cwd=course,
                            env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "cannot be sandboxed here, so nothing was graded" in result.stderr and "bubblewrap" in result.stderr
    assert not (course / "gradebook.db").exists() and not (course / "grades").exists()


def test_a_notebook_not_handed_in_scores_zero_with_the_reason(tmp_path):
    course = copy_course(tmp_path / "course")
    inbox = make_class(course, 1)
    folder = inbox / "late_student" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "my_work.ipynb").write_text(notebook_path(course / "assignments", ASSIGNMENT).read_text())
    result = run_autograder(*ARGS, "--submissions", str(inbox), cwd=course)
    assert result.returncode == 1 and "missing (found my_work.ipynb)" in result.stderr
    data = json.loads((course / "grades" / ASSIGNMENT / "late_student.json").read_text())
    assert data["score"] == 0 and data["max_score"] == 20
    assert {t["message"] for t in data["notebooks"][0]["tests"]} == {"Not graded: the notebook was not handed in."}
    scores = {cell: score for student, cell, score, _, _ in gradebook_rows(course) if student == "late_student"}
    assert len(scores) == 7 and not any(scores.values())
