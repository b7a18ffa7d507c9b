"""`autograder import` and `autograder export` (autograder/lms.py) on real files and a real nbgrader gradebook.

Import: every naming style lands in submitted/<student>/<assignment>/<assignment>.ipynb with nbgrader's
timestamp.txt; bad names, bad ids, duplicates and roster mismatches are named, exit 1 and write nothing wrong;
usage errors exit 2; importing again changes nothing; a changed file needs --force; downloads are only read.
Export: one row per gradebook student with scores, maxima, totals and the assignments pending manual grading.
Most commands run in-process through ``cli.main`` (the entry point a user's command calls); one import and one
export run as a separate process, as a user would.
"""

from __future__ import annotations

import csv
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from autograder import cli, lms  # importing the package puts nbgrader's alembic tool on PATH for Gradebook
from autograder.gradebook import load_settings
from conftest import ASSIGNMENT, copy_course, fingerprint, run_autograder

NOTEBOOK = f"{ASSIGNMENT}.ipynb"
# A submission time with microseconds, as nbgrader writes it, and the mtime that gives it.
SUBMITTED_AT = datetime(2026, 11, 30, 17, 4, 5, 123456, tzinfo=timezone.utc)
SUBMITTED_TEXT = "2026-11-30 17:04:05.123456 UTC"


def write_notebook(path: Path, answer: str, when: datetime = SUBMITTED_AT) -> Path:
    """A small valid notebook whose one code cell is ``answer``, modified at ``when``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(answer)])
    nbformat.write(notebook, path)
    nanoseconds = int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000
    os.utime(path, ns=(nanoseconds, nanoseconds))
    return path


def autograder(capsys, *args: str) -> tuple[int, str, str]:
    """Run the command line in this process; return the exit status, stdout and stderr."""
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def submitted(course: Path, student: str) -> Path:
    return course / "submitted" / student / ASSIGNMENT / NOTEBOOK


def students_in(course: Path) -> set[str]:
    folder = course / "submitted"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


# --- naming --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, student", [
    ("alice.ipynb", "alice"),
    ("alice_ps1_gradient_descent.ipynb", "alice"),
    ("ps1_gradient_descent_alice.ipynb", "alice"),
    ("alice-PS1-Gradient-Descent.ipynb", "alice"),  # an LMS changed case and separators
    ("john.smith ps1_gradient_descent.ipynb", "john.smith"),
    ("smithjohn_12345_67890_ps1_gradient_descent.ipynb", "smithjohn"),
    ("smithjohn_LATE_12345_67890_ps1_gradient_descent-1.ipynb", "smithjohn"),
    ("smithjohn_12345_67890_homework.ipynb", "smithjohn"),  # Canvas keeps whatever the student named the file
    ("a.b+c@uni.edu.ipynb", "a.b+c@uni.edu"),
    ("ps1_gradient_descent.ipynb", None),  # no id left
    ("alice_ps1_gradient_descent-1.ipynb", None),  # the assignment's name would end up inside the id
])
def test_default_naming_rule(name, student):
    assert lms.Naming(ASSIGNMENT).student(name) == student


# --- import --------------------------------------------------------------------------------------------------

def test_every_naming_style_is_filed_under_its_student(course, downloads):
    names = {"alice": "alice.ipynb", "bob": "bob_ps1_gradient_descent.ipynb",
             "carol": "PS1-Gradient-Descent_carol.ipynb",
             "smithjohn": "smithjohn_12345_67890_ps1_gradient_descent.ipynb",
             "doejane": "doejane_late_222_333_homework-1.ipynb"}
    for student, name in names.items():
        write_notebook(downloads / name, f"answer = {student!r}")
    before, source = fingerprint(downloads), fingerprint(course / "source")

    result = run_autograder("import", ASSIGNMENT, str(downloads), cwd=course)  # the course is found from here

    assert result.returncode == 0, result.stderr
    assert "Imported 5 (5 new, 0 replaced), 0 already up to date, skipped 0, missing 0" in result.stdout
    assert students_in(course) == set(names)
    for student, name in names.items():
        assert submitted(course, student).read_bytes() == (downloads / name).read_bytes()
        assert sorted(p.name for p in submitted(course, student).parent.iterdir()) == [NOTEBOOK, "timestamp.txt"]
        stamp = (submitted(course, student).parent / "timestamp.txt").read_text().strip()
        assert stamp == SUBMITTED_TEXT and parse_utc(stamp) == SUBMITTED_AT.replace(tzinfo=None)
    assert fingerprint(downloads) == before and fingerprint(course / "source") == source


def test_pattern_replaces_the_default_rule(course, downloads, capsys):
    write_notebook(downloads / "hw-alice-final.ipynb", "answer = 1")
    write_notebook(downloads / "alice.ipynb", "answer = 2")  # fine by default, not by this pattern

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads,
                                "--pattern", r"hw-(?P<student>[a-z]+)-final")

    assert code == 1
    assert students_in(course) == {"alice"}
    assert "answer = 1" in submitted(course, "alice").read_text()
    assert (f"{downloads / 'alice.ipynb'}: no student id in the name; expected a name matching --pattern "
            "'hw-(?P<student>[a-z]+)-final'") in err
    assert "e.g. hw-alice-final.ipynb matched" in err


def test_bad_names_and_ids_are_named_and_nothing_is_written_for_them(course, downloads, capsys):
    write_notebook(downloads / "bob.ipynb", "answer = 1")
    write_notebook(downloads / NOTEBOOK, "answer = 2")
    write_notebook(downloads / "John Smith.ipynb", "answer = 3")
    write_notebook(downloads / "-dash.ipynb", "answer = 4")
    (downloads / "notes.txt").write_text("not a notebook")
    (downloads / "extra").mkdir()
    (downloads / ".DS_Store").write_bytes(b"\0")  # an OS's file: ignored without a word

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)

    assert code == 1
    assert students_in(course) == {"bob"}
    assert (f"{downloads / NOTEBOOK}: no student id in the name; expected the student id, alone or with the "
            f"assignment name before or after it, e.g. alice.ipynb or alice_{ASSIGNMENT}.ipynb") in err
    assert f"{downloads / 'John Smith.ipynb'}: 'John Smith' is not a usable student id" in err
    assert f"{downloads / '-dash.ipynb'}: '-dash' is not a usable student id" in err
    assert f"{downloads / 'notes.txt'}: not a notebook (.ipynb)" in err
    assert f"{downloads / 'extra'}: a folder" in err
    assert ".DS_Store" not in err + out
    assert "Imported 1 (1 new, 0 replaced), 0 already up to date, skipped 5, missing 0" in out


def test_two_files_for_one_student_import_neither(course, downloads, capsys):
    write_notebook(downloads / "alice.ipynb", "answer = 1")
    write_notebook(downloads / f"alice_{ASSIGNMENT}.ipynb", "answer = 2")
    write_notebook(downloads / "bob.ipynb", "answer = 3")

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)

    assert code == 1
    assert students_in(course) == {"bob"}
    assert (f"{downloads / 'alice.ipynb'}: alice has another file here too (alice_{ASSIGNMENT}.ipynb); "
            "neither was imported") in err
    assert f"{downloads / f'alice_{ASSIGNMENT}.ipynb'}: alice has another file here too (alice.ipynb)" in err


@pytest.mark.parametrize("roster_text", [
    "name,student_id,email\nAlice A,alice,a@x\nBob B,bob,b@x\nCarol C,carol,c@x\n",
    "\ufeff# the class\nalice\n\nbob\ncarol\n",  # with the byte-order mark spreadsheets add
], ids=["csv", "list"])
def test_roster_refuses_strangers_and_lists_the_missing(course, downloads, tmp_path, capsys, roster_text):
    roster = tmp_path / "roster.txt"
    roster.write_text(roster_text, encoding="utf-8")
    write_notebook(downloads / "alice.ipynb", "answer = 1")
    write_notebook(downloads / "mallory.ipynb", "answer = 2")
    write_notebook(course / "submitted" / "carol" / ASSIGNMENT / NOTEBOOK, "answer = 3")  # imported earlier

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads, "--roster", roster)

    assert code == 1
    assert students_in(course) == {"alice", "carol"}
    assert f"{downloads / 'mallory.ipynb'}: mallory is not on the roster" in err
    missing = err.split("Missing (on the roster, no file in")[1].splitlines()[1:]
    assert [line.strip() for line in missing] == [
        "bob", f"carol (has an earlier submission in {course / 'submitted' / 'carol' / ASSIGNMENT})"]
    assert "skipped 1, missing 2" in out


def test_roster_without_student_id_column_is_a_usage_error(course, downloads, tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAlice,a@x\n")
    write_notebook(downloads / "alice.ipynb", "answer = 1")

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads, "--roster", roster)

    assert code == 2
    assert (f"autograder: Roster {roster} looks like a CSV file but has no student_id column "
            "(columns: name, email)") in err
    assert students_in(course) == set()


def test_importing_again_changes_nothing(course, downloads, capsys):
    write_notebook(downloads / "alice.ipynb", "answer = 1")
    write_notebook(downloads / "bob.ipynb", "answer = 2")
    assert autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)[0] == 0
    folder = course / "submitted"
    before = fingerprint(folder), {p: p.stat().st_mtime_ns for p in folder.rglob("*")}

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)

    assert code == 0, err
    assert "Imported 0 (0 new, 0 replaced), 2 already up to date, skipped 0" in out
    assert (fingerprint(folder), {p: p.stat().st_mtime_ns for p in folder.rglob("*")}) == before


def test_a_changed_file_is_kept_out_without_force_and_replaces_with_it(course, downloads, capsys):
    write_notebook(downloads / "alice.ipynb", "answer = 'first'")
    write_notebook(downloads / "bob.ipynb", "answer = 'bob'")
    assert autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)[0] == 0
    later = datetime(2026, 12, 1, 9, 0, 0, 500, tzinfo=timezone.utc)
    write_notebook(downloads / "alice.ipynb", "answer = 'second'", later)
    before = fingerprint(downloads)

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)

    assert code == 1
    assert (f"{downloads / 'alice.ipynb'}: alice already has a different submission, {submitted(course, 'alice')}; "
            "kept it (pass --force to replace it)") in err
    assert "'first'" in submitted(course, "alice").read_text()
    assert (submitted(course, "alice").parent / "timestamp.txt").read_text().strip() == SUBMITTED_TEXT

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads, "--force")

    assert code == 0, err
    assert "replaced  alice" in out and "unchanged bob" in out
    assert submitted(course, "alice").read_bytes() == (downloads / "alice.ipynb").read_bytes()
    assert (submitted(course, "alice").parent / "timestamp.txt").read_text().strip() == \
        "2026-12-01 09:00:00.000500 UTC"
    assert fingerprint(downloads) == before
    assert not [p for p in (course / "submitted").rglob(".import-*")]


def test_an_interrupted_copy_leaves_the_old_submission_whole(course, downloads, monkeypatch):
    write_notebook(downloads / "alice.ipynb", "answer = 'first'")
    lms.import_submissions(course, ASSIGNMENT, downloads)
    old = submitted(course, "alice").read_bytes()
    write_notebook(downloads / "alice.ipynb", "answer = 'second'")

    def copy_half(source, destination):
        Path(destination).write_bytes(Path(source).read_bytes()[:20])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(lms.shutil, "copyfile", copy_half)
    result = lms.import_submissions(course, ASSIGNMENT, downloads, force=True)

    assert result.skipped == [
        f"{downloads / 'alice.ipynb'}: could not be imported ([Errno 28] No space left on device)"]
    assert submitted(course, "alice").read_bytes() == old
    assert sorted(p.name for p in submitted(course, "alice").parent.iterdir()) == [NOTEBOOK, "timestamp.txt"]


def test_timestamps_provided_by_the_folder_win_over_modification_times(course, downloads, capsys):
    write_notebook(downloads / "alice.ipynb", "answer = 1")
    (downloads / "alice.timestamp.txt").write_text("2026-10-01 12:00:00.000001 UTC\n")
    write_notebook(downloads / "bob.ipynb", "answer = 2")
    write_notebook(downloads / "carol.ipynb", "answer = 3")
    (downloads / "carol.timestamp.txt").write_text("last Tuesday-ish\n")
    (downloads / "timestamp.txt").write_text("2026-10-02 08:30:00.000000 UTC\n")

    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)

    assert code == 1
    stamps = {s: (submitted(course, s).parent / "timestamp.txt").read_text().strip() for s in students_in(course)}
    assert stamps == {"alice": "2026-10-01 12:00:00.000001 UTC", "bob": "2026-10-02 08:30:00.000000 UTC"}
    assert f"{downloads / 'carol.ipynb'}: {downloads / 'carol.timestamp.txt'}: not a timestamp nbgrader can read" in err
    assert "skipped 1," in out  # the timestamp files themselves are not reported as strays


def test_usage_errors_exit_2_and_write_nothing(course, downloads, tmp_path, capsys):
    write_notebook(downloads / "alice.ipynb", "answer = 1")
    cases = {
        ("ps9_unknown", downloads): "autograder: No assignment ps9_unknown in",
        (ASSIGNMENT, tmp_path / "nowhere"): f"autograder: No folder {tmp_path / 'nowhere'}",
        (ASSIGNMENT, downloads, "--pattern", "(?P<id>.+)"): "has no group named 'student'",
        (ASSIGNMENT, downloads, "--pattern", "(?P<student>"): "is not a valid regular expression",
        (ASSIGNMENT, downloads, "--roster", tmp_path / "absent.csv"):
            f"Roster {tmp_path / 'absent.csv'} cannot be read",
        (ASSIGNMENT, tmp_path): f"autograder: {tmp_path} holds no notebooks",
    }
    for args, message in cases.items():
        code, out, err = autograder(capsys, "--course", course, "import", *args)
        assert (code, message in err) == (2, True), (args, err)
    write_notebook(course / "source" / ASSIGNMENT / "part2.ipynb", "x = 1")
    code, out, err = autograder(capsys, "--course", course, "import", ASSIGNMENT, downloads)
    assert code == 2 and f"{ASSIGNMENT} has 2 notebooks (part2, {ASSIGNMENT})" in err
    assert students_in(course) == set()


# --- export --------------------------------------------------------------------------------------------------

PS2 = "ps2_backpropagation"


def record_grades(course: Path) -> None:
    """A gradebook made through nbgrader's API: two assignments, four students, one still waiting for a person.

    ps1 (max 10): test_a 2 + test_b 3 points of code, written 5 points; ps2 (max 4): test_c.
    alice: ps1 2 + 1.5 + 4 (graded by hand) = 7.5, ps2 4; bob: ps1 2 + 3 with the written part pending, no ps2;
    carol: ps2 only, 3.25 handed in a day late with 3 points off (nbgrader's late penalty) = 0.25; dave: in the
    gradebook without any submission.
    """
    from nbgrader.api import Gradebook
    with warnings.catch_warnings(), Gradebook(load_settings(course).db_url, "nn-from-scratch") as gradebook:
        warnings.simplefilter("ignore")  # nbgrader 0.9's add_submission warns under SQLAlchemy 2, and works
        gradebook.add_assignment(ASSIGNMENT, duedate="2026-10-01 00:00:00 UTC")
        gradebook.add_assignment(PS2, duedate="2026-11-01 00:00:00 UTC")
        gradebook.add_notebook(ASSIGNMENT, ASSIGNMENT)
        gradebook.add_notebook(PS2, PS2)
        for name, points, kind in (("test_a", 2, "code"), ("test_b", 3, "code"), ("written", 5, "markdown")):
            gradebook.add_grade_cell(name, ASSIGNMENT, ASSIGNMENT, max_score=points, cell_type=kind)
        gradebook.add_grade_cell("test_c", PS2, PS2, max_score=4, cell_type="code")
        for student in ("dave", "carol", "bob", "alice"):  # not in order: the export sorts
            gradebook.add_student(student)
        scores = {("alice", ASSIGNMENT): {"test_a": 2, "test_b": 1.5, "written": ("manual", 4)},
                  ("alice", PS2): {"test_c": 4},
                  ("bob", ASSIGNMENT): {"test_a": 2, "test_b": 3, "written": None},
                  ("carol", PS2): {"test_c": 3.25}}
        for (student, assignment), grades in scores.items():
            gradebook.add_submission(assignment, student)
            for cell, score in grades.items():
                grade = gradebook.find_grade(cell, assignment, assignment, student)
                if isinstance(score, tuple):  # what Formgrader stores when a person scores a part
                    grade.manual_score, grade.needs_manual_grade = score[1], False
                else:
                    grade.auto_score, grade.needs_manual_grade = score, score is None
        late = gradebook.find_submission(PS2, "carol")
        late.timestamp = datetime(2026, 11, 2)
        late.notebooks[0].late_submission_penalty = 3
        gradebook.db.commit()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    course = copy_course(tmp_path_factory.mktemp("lms") / "course")
    record_grades(course)
    return course


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_export_has_every_student_with_scores_maxima_totals_and_pending_manual(recorded):
    result = run_autograder("--course", str(recorded), "export")

    assert result.returncode == 0, result.stderr
    output = recorded / "grades" / "lms.csv"
    assert f"Wrote 4 students x 2 assignments to {output}" in result.stdout
    assert read_csv(output) == [
        ["student_id", ASSIGNMENT, f"{ASSIGNMENT}_max", PS2, f"{PS2}_max", "total", "total_max", "pending_manual"],
        ["alice", "7.5", "10", "4", "4", "11.5", "14", ""],
        ["bob", "5", "10", "", "4", "5", "14", ASSIGNMENT],
        ["carol", "", "10", "0.25", "4", "0.25", "14", ""],
        ["dave", "", "10", "", "4", "0", "14", ""],
    ]


def test_export_of_chosen_assignments_in_their_order(recorded, tmp_path, capsys):
    output = tmp_path / "upload" / "ps2_then_ps1.csv"

    code, out, err = autograder(capsys, "--course", recorded, "export", "--output", output,
                                "--assignments", PS2, ASSIGNMENT)

    assert code == 0, err
    rows = read_csv(output)
    assert rows[0][:5] == ["student_id", PS2, f"{PS2}_max", ASSIGNMENT, f"{ASSIGNMENT}_max"]
    assert rows[2] == ["bob", "", "4", "5", "10", "5", "14", ASSIGNMENT]
    code, out, err = autograder(capsys, "--course", recorded, "export", "--output", output, "--assignments", PS2)
    assert read_csv(output)[1] == ["alice", "4", "4", "4", "4", ""]


def test_export_usage_errors(recorded, course, capsys):
    before = fingerprint(recorded / "grades") if (recorded / "grades").is_dir() else {}
    code, out, err = autograder(capsys, "--course", recorded, "export", "--assignments", "ps9_unknown")
    assert code == 2 and "autograder: No assignment ps9_unknown in the gradebook; recorded: " in err
    assert (fingerprint(recorded / "grades") if (recorded / "grades").is_dir() else {}) == before

    code, out, err = autograder(capsys, "--course", course, "export")  # a course nothing was graded in
    assert code == 2 and f"autograder: No gradebook at {course / 'gradebook.db'}" in err
    assert not (course / "gradebook.db").exists() and not (course / "grades").exists()


@pytest.mark.parametrize("value, text", [(17.0, "17"), (17.5, "17.5"), (0.1 + 0.2, "0.3"), (0.0, "0"),
                                         (-0.0, "0"), (1234567.0, "1234567"), (2 / 3, "0.666667")])
def test_scores_are_written_without_trailing_zeros(value, text):
    assert lms.number(value) == text
