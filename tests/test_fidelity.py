"""Fidelity: `autograder grade` gives every honest submission, cell by cell, the score plain `nbgrader autograde` gives.

For each assignment of the catalogue (tests/fidelity/) and for a set of nbgrader's own test fixtures, a scratch
course is generated with nbgrader (cells recorded in its gradebook). The same submissions (the solution, different
correct code, partly wrong code, the untouched student version) are graded in two copies of that course, one by
each grader, and the two gradebooks are compared cell by cell: the same score, or both waiting for a person. A
failure lists every cell that differs with both scores and what the autograder said about it.

The catalogue itself is checked on plain nbgrader: the solution earns every automatic point, the untouched
notebook none, and each variant loses exactly the test cells it is written to lose.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, run_autograder
from fidelity.catalogue import (ASSIGNMENTS, AUTOTESTS, NBGRADER_FIXTURES, NBGRADER_FIXTURES_ASSIGNMENT,
                                NBGRADER_FIXTURES_CONFIG, RELEASED, nbgrader_fixture_folder)
from fidelity.notebook import UNTOUCHED

# Appended to a copy of the course's nbgrader_config.py: the scratch course keeps its gradebook and exchange inside.
SCRATCH_CONFIG = """
# A scratch course of tests/test_fidelity.py: its own id, and its gradebook and exchange inside its folder.
import os as _os
_here = _os.path.dirname(_os.path.abspath(__file__))
c.CourseDirectory.course_id = "fidelity"
c.CourseDirectory.root = _here
c.CourseDirectory.db_url = "sqlite:///" + _os.path.join(_here, "gradebook.db")
c.Exchange.root = _os.path.join(_here, "exchange")
"""
NEEDS_MANUAL = "needs manual grade"
NOT_GRADED = "not graded"


def environment(**extra: str) -> dict[str, str]:
    """This environment, with the interpreter's tools (nbgrader runs `alembic`) first on PATH."""
    env = dict(os.environ, **extra)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(course: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          env=environment(**extra_env), timeout=600, check=False)


def make_course(folder: Path, autotests: Path, extra_config: str = "") -> Path:
    """An empty course configured as this one is (the course's nbgrader_config.py), with autotests.yml at its root."""
    folder.mkdir(parents=True)
    config = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    (folder / "nbgrader_config.py").write_text(config + SCRATCH_CONFIG + extra_config, encoding="utf-8")
    shutil.copyfile(autotests, folder / "autotests.yml")
    return folder


def generate(course: Path, assignment: str) -> Path:
    """nbgrader generate_assignment, recording the cells in the gradebook; returns the released folder."""
    result = run_nbgrader(course, "generate_assignment", assignment, "--force")
    assert result.returncode == 0, f"nbgrader generate_assignment {assignment} failed:\n{result.stderr[-3000:]}"
    return course / "assignments" / assignment


@dataclass
class Graded:
    """One assignment graded by both graders from the same course and the same submissions."""
    assignment: str
    students: list[str]
    plain: dict  # (student, notebook, cell) -> score as a string, NEEDS_MANUAL or NOT_GRADED
    sandboxed: dict
    plain_run: subprocess.CompletedProcess
    sandboxed_run: subprocess.CompletedProcess
    reports: dict  # student -> the autograder's grades/<assignment>/<student>.json (or {})
    plain_flagged: set  # (student, notebook) flagged for a person to look at
    sandboxed_flagged: set


def cell_grades(course: Path, assignment: str, students: list[str]) -> tuple[dict, set]:
    """Every graded cell (tests, answers and tasks) of every student in the gradebook, and the (student, notebook)
    pairs flagged for a person to look at."""
    from nbgrader.api import Gradebook, MissingEntry

    grades, cells, flagged = {}, [], set()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "fidelity") as gradebook:
        for notebook in gradebook.find_assignment(assignment).notebooks:
            cells += [(notebook.name, cell.name) for cell in [*notebook.grade_cells, *notebook.task_cells]]
        for student in students:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                if notebook.flagged:
                    flagged.add((student, notebook.name))
                for grade in notebook.grades:
                    if grade.needs_manual_grade:
                        auto = "" if grade.auto_score is None else f" (automatic score {grade.auto_score:g})"
                        grades[student, notebook.name, grade.name] = NEEDS_MANUAL + auto
                    else:
                        grades[student, notebook.name, grade.name] = f"{grade.score:g}"
        for student in students:
            for notebook, cell in cells:
                grades.setdefault((student, notebook, cell), NOT_GRADED)
    return grades, flagged


def grade_both(workspace: Path, course: Path, assignment: str, submissions: dict[str, dict[str, object]]) -> Graded:
    """Copy the generated course twice, hand in ``submissions`` (student -> notebook name -> notebook) in each,
    grade one copy with nbgrader autograde and the other with autograder grade, at the same time."""
    copies = {}
    for grader in ("plain", "sandboxed"):
        copies[grader] = shutil.copytree(course, workspace / grader)
        for student, notebooks in submissions.items():
            folder = copies[grader] / "submitted" / student / assignment
            folder.mkdir(parents=True)
            for name, notebook in notebooks.items():
                nbformat.write(notebook, folder / f"{name}.ipynb")
    with ThreadPoolExecutor(max_workers=2) as pool:
        # The course refuses nbgrader's own autograde (autograder/guard.py) unless it is asked for by name.
        plain = pool.submit(run_nbgrader, copies["plain"], "autograde", assignment,
                            AUTOGRADER_ALLOW_PLAIN_AUTOGRADE="1")
        sandboxed = pool.submit(run_autograder, "--quiet", "grade", assignment, "--no-feedback",
                                cwd=copies["sandboxed"])
        plain_run, sandboxed_run = plain.result(), sandboxed.result()
    students = sorted(submissions)
    plain_grades, plain_flagged = cell_grades(copies["plain"], assignment, students)
    sandboxed_grades, sandboxed_flagged = cell_grades(copies["sandboxed"], assignment, students)
    reports = {}
    for student in students:
        path = copies["sandboxed"] / "grades" / assignment / f"{student}.json"
        reports[student] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return Graded(assignment, students, plain_grades, sandboxed_grades, plain_run, sandboxed_run, reports,
                  plain_flagged, sandboxed_flagged)


def grade_catalogue_assignment(workspace: Path, name: str) -> Graded:
    assignment = ASSIGNMENTS[name]
    course = make_course(workspace / "course", AUTOTESTS)
    assignment.write_source(course / "source")
    released = nbformat.read(generate(course, name) / f"{name}.ipynb", as_version=4)
    submissions = {student: {name: assignment.submission(released, student)} for student in assignment.students}
    return grade_both(workspace, course, name, submissions)


def grade_nbgrader_fixtures(workspace: Path) -> Graded:
    """nbgrader's own fixtures as one assignment, one notebook per fixture; students hand in what nbgrader's tests
    hand in (a student without a file for a notebook hands in nothing for it)."""
    fixtures = nbgrader_fixture_folder()
    assignment = NBGRADER_FIXTURES_ASSIGNMENT
    course = make_course(workspace / "course", fixtures / "autotests.yml", NBGRADER_FIXTURES_CONFIG)
    source = course / "source" / assignment
    source.mkdir(parents=True)
    for fixture in NBGRADER_FIXTURES:
        shutil.copyfile(fixtures / fixture.source, source / f"{fixture.name}.ipynb")
        for data in fixture.data_files:
            shutil.copyfile(fixtures / data, source / data)
    released = generate(course, assignment)
    submissions: dict[str, dict] = {}
    for fixture in NBGRADER_FIXTURES:
        for student, file in fixture.submissions.items():
            path = released / f"{fixture.name}.ipynb" if file == RELEASED else fixtures / file
            submissions.setdefault(student, {})[fixture.name] = nbformat.read(path, as_version=4)
    return grade_both(workspace, course, assignment, submissions)


def grade(workspace: Path, name: str) -> Graded:
    if name == NBGRADER_FIXTURES_ASSIGNMENT:
        return grade_nbgrader_fixtures(workspace)
    return grade_catalogue_assignment(workspace, name)


class Gradings:
    """Each assignment graded once per module, all queued at the start and graded in the background, two at a time
    (the longest first)."""

    def __init__(self, workspace):
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.futures: dict[str, Future] = {name: self.pool.submit(grade, workspace.mktemp(name), name)
                                           for name in (NBGRADER_FIXTURES_ASSIGNMENT, *ASSIGNMENTS)}

    def __call__(self, name: str) -> Graded:
        return self.futures[name].result()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    gradings = Gradings(tmp_path_factory)
    yield gradings
    gradings.pool.shutdown(wait=True, cancel_futures=True)


def autograder_says(graded: Graded, student: str, notebook: str, cell: str) -> str:
    """The status and message the autograder's JSON gives for one cell."""
    report = graded.reports.get(student)
    if not report:
        return "no JSON result written"
    for entry in report.get("notebooks", []):
        if entry.get("notebook") == notebook:
            for test in entry.get("tests", []):
                if test.get("grade_id") == cell:
                    message = " ".join(str(test.get("message") or "").split())
                    return f"{test.get('status')}: {message}" if message else str(test.get("status"))
            return "no test result for this cell"
    return "no result for this notebook"


def differences(graded: Graded) -> list[tuple[str, str, str, str, str, str]]:
    """(student, notebook, cell, nbgrader's grade, the autograder's, what the autograder said) per differing cell."""
    return [(*key, graded.plain[key], graded.sandboxed.get(key, NOT_GRADED), autograder_says(graded, *key))
            for key in sorted(graded.plain) if graded.plain[key] != graded.sandboxed.get(key, NOT_GRADED)]


def describe_differences(graded: Graded) -> str:
    rows = differences(graded)
    header = ("student", "notebook", "cell", "nbgrader", "autograder", "autograder says")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    lines = [f"`autograder grade` and `nbgrader autograde` differ on {len(rows)} of {len(graded.plain)} cells "
             f"of {graded.assignment}:",
             "  " + "  ".join(f"{h:<{w}}" for h, w in zip(header, widths)) + "  " + header[5]]
    lines += ["  " + "  ".join(f"{v:<{w}}" for v, w in zip(row, widths)) + "  " + row[5] for row in rows]
    problems = [f"  {student}/{entry.get('notebook')}: {problem}"
                for student in sorted({row[0] for row in rows})
                for entry in graded.reports.get(student, {}).get("notebooks", [])
                for problem in entry.get("problems", [])]
    if problems:
        lines += ["Problems the autograder reported for these submissions:", *problems]
    if graded.sandboxed_run.returncode not in (0, 1):
        lines += [f"autograder grade exited {graded.sandboxed_run.returncode}:",
                  graded.sandboxed_run.stderr.strip()[-2000:]]
    return "\n".join(lines)


def plain_nbgrader_ran(graded: Graded) -> None:
    run = graded.plain_run
    assert run.returncode == 0, f"nbgrader autograde {graded.assignment} exited {run.returncode}:\n{run.stderr[-3000:]}"
    missing = sorted(key for key, value in graded.plain.items() if value == NOT_GRADED)
    assert not missing, f"nbgrader autograde recorded no grade for {missing}"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_plain_nbgrader_grades_the_catalogue_as_written(graded, name):
    """The catalogue is right: on plain nbgrader the solution earns every automatic point, the untouched notebook
    none, each variant loses exactly the test cells it names; answers a person grades wait for one."""
    result, assignment = graded(name), ASSIGNMENTS[name]
    plain_nbgrader_ran(result)
    wrong = []
    for student in assignment.students:
        losses = assignment.expected_losses(student)
        for cell, points in assignment.autograded_cells.items():
            grade = result.plain[student, name, cell]
            full = grade == f"{points:g}"
            if (cell in losses) == full or grade.startswith(NEEDS_MANUAL):
                wrong.append(f"{student}/{cell}: {grade} of {points:g}, expected "
                             f"{'less than full marks' if cell in losses else 'full marks'}")
        for cell in assignment.manual_cells:
            grade = result.plain[student, name, cell]
            # nbgrader scores an answer left as released 0 ("No response."); a task always waits for a person.
            untouched_answer = student == UNTOUCHED and not next(c for c in assignment.cells if c.grade_id == cell).task
            expected = "0" if untouched_answer else NEEDS_MANUAL
            if grade != expected:
                wrong.append(f"{student}/{cell}: {grade}, expected {expected}")
    assert not wrong, f"plain nbgrader does not grade {name} as the catalogue says:\n  " + "\n  ".join(wrong)
    untouched = [result.plain[UNTOUCHED, name, cell] for cell in assignment.autograded_cells]
    assert set(untouched) == {"0"}


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_autograder_grades_the_catalogue_as_plain_nbgrader(graded, name):
    """Every cell of every submission: the same score from both graders, or both waiting for a person."""
    result = graded(name)
    plain_nbgrader_ran(result)
    if differences(result):
        pytest.fail(describe_differences(result), pytrace=False)


def test_plain_nbgrader_grades_its_fixtures_as_its_own_tests_say(graded):
    """The fixture course is set up as nbgrader's tests set theirs up: the notebook totals they assert."""
    result = graded(NBGRADER_FIXTURES_ASSIGNMENT)
    plain_nbgrader_ran(result)
    totals: dict[tuple[str, str], float] = {}
    for (student, notebook, _), grade in result.plain.items():
        if not grade.startswith(NEEDS_MANUAL):
            totals[student, notebook] = totals.get((student, notebook), 0.0) + float(grade)
    expected = {(student, fixture.name): score for fixture in NBGRADER_FIXTURES
                for student, score in fixture.nbgrader_scores.items()}
    assert {key: totals.get(key, 0.0) for key in expected} == expected


def test_autograder_grades_nbgrader_fixtures_as_plain_nbgrader(graded):
    """nbgrader's own fixtures, cell by cell: the same score from both graders, or both waiting for a person."""
    result = graded(NBGRADER_FIXTURES_ASSIGNMENT)
    plain_nbgrader_ran(result)
    if differences(result):
        pytest.fail(describe_differences(result), pytrace=False)


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_autograder_flags_no_honest_submission(graded, name):
    """Nothing in the catalogue's submissions is suspicious: the autograder flags no notebook for review (nbgrader
    flags none). nbgrader's fixtures are left out: their test cells were generated by an older nbgrader (other
    AUTOTEST salts), so both graders restore them, and the autograder flags that by design."""
    result = graded(name)
    flagged = sorted(result.sandboxed_flagged - result.plain_flagged)
    findings = [f"  {student}/{notebook}: {finding.get('kind')} in {finding.get('cell')} ({finding.get('seen')}): "
                f"{finding.get('detail')}"
                for student, notebook in flagged
                for entry in result.reports.get(student, {}).get("notebooks", []) if entry.get("notebook") == notebook
                for finding in entry.get("integrity", [])]
    if flagged:
        pytest.fail(f"autograder grade flagged honest notebooks of {name} that nbgrader autograde does not: "
                    f"{flagged}\n" + "\n".join(findings), pytrace=False)
