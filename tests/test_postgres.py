"""The gradebook in PostgreSQL by configuration alone.

A real PostgreSQL server is started for this module (initdb into a scratch folder, a free port on 127.0.0.1,
its socket in the same folder) and stopped at the end. The same small class is graded in two copies of the
course: one with nbgrader's default SQLite gradebook, one whose nbgrader_config.py only gains the line
``c.CourseDirectory.db_url = "postgresql://..."``. Both must give the same grade files and gradebook rows, the
PostgreSQL course must never get a gradebook.db, and ``autograder report`` must pick up a manual grade set
through nbgrader's Gradebook API, as Formgrader sets it.

Nothing is installed here: the server binaries come from Debian's postgresql package (tools/system-packages.sh)
and the driver from the test extras (psycopg2-binary). Without the binaries these tests fail, they never skip.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from sqlalchemy.engine import make_url
from traitlets.config.loader import PyFileConfigLoader

from autograder.gradebook import load_settings
from conftest import ASSIGNMENT, ROOT, copy_course, notebook_path, run_autograder, write_class
from mutations import CATALOGUE

SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
MISSING = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found (looked at `pg_config --bindir`, "
           "`postgres` on PATH and /usr/lib/postgresql/*/bin): run `bash tools/system-packages.sh` "
           "(it installs Debian's postgresql package), then run the tests again.")
SERVER_USER = "postgres"  # the system account Debian's package creates; used only when the tests run as root
# The role and database that deploy/jupyterhub/course_settings.py names (there reached through the socket).
ROLE, PASSWORD, DATABASE = "nnfs-grader", "grader-secret", "nnfs_gradebook"
MANUAL_PART = "written_two_valleys"  # the manually graded answer of ps1_gradient_descent (3 points)


# --- the server -------------------------------------------------------------------------------------------

def _has_server(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) for name in SERVER_PROGRAMS)


def server_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: pg_config's, then PATH's, then the newest Debian one."""
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(Path(found.stdout.strip()))
    if shutil.which("postgres"):
        candidates.append(Path(shutil.which("postgres")).resolve().parent)

    def version(path: str) -> tuple:
        return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name))

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    return next((folder for folder in candidates if _has_server(folder)), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    bindir: Path
    base: Path
    port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sockets(self) -> Path:
        return self.base / "sockets"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self) -> str:
        # The driver is named: SQLAlchemy 2.1 takes a bare postgresql:// to mean psycopg 3, not psycopg2.
        return f"postgresql+psycopg2://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def command(self, program: str, *args: str) -> list[str]:
        """Run a server program as the server's user: PostgreSQL refuses to run as root."""
        command = [str(self.bindir / program), *args]
        if os.geteuid() != 0:
            return command
        if shutil.which("runuser"):
            return ["runuser", "-u", SERVER_USER, "--", *command]
        return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", *command]

    def run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        # The current folder may be one the server's user cannot enter: start from the server's own.
        return subprocess.run(self.command(program, *args), cwd=self.base, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def logged(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.is_file() else "(no server log)"

    def start(self) -> None:
        options = " ".join(shlex.quote(option) for option in (
            "-p", str(self.port), "-k", str(self.sockets), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"))
        started = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                           "start")
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed (exit {started.returncode}): {started.stderr}\n{self.logged()}")

    def stop(self) -> None:
        """Stop the server; if pg_ctl cannot, end the postmaster this module started (its pid is in the data folder)."""
        if not (self.data / "postmaster.pid").is_file():
            return
        # Immediate: the data is thrown away, so there is nothing to write back first.
        stopped = self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", timeout=60)
        pid_file = self.data / "postmaster.pid"
        if stopped.returncode != 0 and pid_file.is_file():
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGQUIT)
            except ProcessLookupError:
                pass

    def create_role_and_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(host=str(self.sockets), port=self.port, user=SERVER_USER, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE ROLE "{ROLE}" LOGIN PASSWORD %s', (PASSWORD,))
                cursor.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
        finally:
            connection.close()


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own on a free localhost port, with a role and a database for the gradebook."""
    bindir = server_bindir()
    if bindir is None:
        pytest.fail(MISSING, pytrace=False)
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.fail(f"Running as root, the server must run as the {SERVER_USER!r} account, which is missing: "
                        "run `bash tools/system-packages.sh` (Debian's postgresql package creates it).", pytrace=False)
    # Not under pytest's tmp folder: that one is closed to every other user, the server's included.
    base = Path(tempfile.mkdtemp(prefix="nnfs-pg-"))
    server = Server(bindir, base, free_port())
    try:
        server.sockets.mkdir()
        if os.geteuid() == 0:
            for path in (base, server.sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        made = server.run("initdb", "-D", str(server.data), "-U", SERVER_USER, "--auth-local=trust",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        assert made.returncode == 0, f"initdb failed (exit {made.returncode}): {made.stderr}"
        for attempt in range(3):  # the port was free a moment ago; another program may have taken it since
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2 or "could not bind" not in server.logged():
                    raise
                server.port = free_port()
        server.create_role_and_database()
        yield server
    finally:
        server.stop()
        deadline = time.monotonic() + 30
        while (server.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)


# --- the class, graded in both courses --------------------------------------------------------------------

def make_class(inbox: Path, source: Path, released: Path) -> list[str]:
    """The solution, the untouched student version, three mutants and a broken notebook file."""
    return sorted(write_class(inbox, ASSIGNMENT, source, released, CATALOGUE[ASSIGNMENT][:3]))


def gradebook_snapshot(db_url: str, course_id: str) -> dict:
    """What the gradebook holds, read through nbgrader's own API (as Formgrader and `nbgrader export` read it)."""
    with Gradebook(db_url, course_id) as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT)
        cells = sorted((nb.name, cell.name, cell.max_score) for nb in assignment.notebooks for cell in nb.grade_cells)
        submissions, grades, comments = [], [], []
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            student = submission.student.id
            submissions.append((student, submission.score, submission.max_score, submission.needs_manual_grade,
                                submission.timestamp, [nb.flagged for nb in submission.notebooks]))
            for notebook in submission.notebooks:
                grades += [(student, notebook.name, g.name, g.auto_score, g.manual_score, g.needs_manual_grade)
                           for g in notebook.grades]
                comments += [(student, notebook.name, c.name, c.auto_comment, c.manual_comment)
                             for c in notebook.comments]
        return {"dialect": gradebook.engine.dialect.name, "students": sorted(s.id for s in gradebook.students),
                "cells": cells, "submissions": sorted(submissions), "grades": sorted(grades, key=repr),
                "comments": sorted(comments, key=repr)}


@dataclass
class Graded:
    course: Path
    db_url: str
    result: subprocess.CompletedProcess
    csv_rows: list[dict]
    results: dict  # student -> per-student JSON
    gradebook: dict
    feedback: list[str]  # students with a feedback page after grading


def grade_course(course: Path, inbox: Path, db_url: str, *options: str) -> Graded:
    result = run_autograder("--quiet", "grade", ASSIGNMENT, "--submissions", str(inbox), "--jobs", "2", *options,
                            cwd=course, timeout=300)
    folder = course / "grades" / ASSIGNMENT
    csv_file = course / "grades" / f"{ASSIGNMENT}.csv"
    assert csv_file.is_file(), f"no CSV written (exit {result.returncode}): {result.stderr[-2000:]}"
    with csv_file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    results = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}
    feedback = sorted(p.parents[1].name for p in (course / "feedback").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.html"))
    return Graded(course, db_url, result, rows, results, gradebook_snapshot(db_url, "nn-from-scratch"), feedback)


@pytest.fixture(scope="module")
def graded(postgres, tmp_path_factory):
    """The same class graded in a SQLite course and in a PostgreSQL course (its config gains one line)."""
    workspace = tmp_path_factory.mktemp("postgres")
    sqlite_course = copy_course(workspace / "sqlite_course")
    postgres_course = copy_course(workspace / "postgres_course")
    with (postgres_course / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write(f'\nc.CourseDirectory.db_url = "{postgres.url()}"\n')
    inbox = workspace / "inbox"
    students = make_class(inbox, notebook_path(sqlite_course / "source", ASSIGNMENT),
                          notebook_path(sqlite_course / "assignments", ASSIGNMENT))
    # Feedback (nbgrader generate_feedback, reading the same configuration) is written in the PostgreSQL course
    # only: it changes none of the files compared here, and leaving it out of the other keeps the module fast.
    sqlite_graded = grade_course(sqlite_course, inbox, f"sqlite:///{sqlite_course / 'gradebook.db'}",
                                 "--no-feedback")
    postgres_graded = grade_course(postgres_course, inbox, postgres.url())
    return students, sqlite_graded, postgres_graded


def without_course_paths(value, course: Path):
    """``value`` with the course folder's path replaced by a placeholder (the only thing the two may differ in)."""
    text = json.dumps(value)
    for path in {str(course), str(course.resolve())}:
        text = text.replace(path, "<course>")
    return json.loads(text)


# --- tests ------------------------------------------------------------------------------------------------

def test_the_postgresql_server_binaries_are_found():
    bindir = server_bindir()
    assert bindir is not None, MISSING
    version = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and "PostgreSQL" in version.stdout, version.stderr


def test_the_configuration_line_alone_points_the_course_at_postgresql(graded, postgres):
    _, sqlite_graded, postgres_graded = graded
    assert load_settings(postgres_graded.course).db_url == postgres.url()
    assert load_settings(sqlite_graded.course).db_url.startswith("sqlite:///")
    assert postgres_graded.gradebook["dialect"] == "postgresql"
    assert sqlite_graded.gradebook["dialect"] == "sqlite"
    assert (sqlite_graded.course / "gradebook.db").is_file()
    # nbgrader generate_feedback, run by the grader, found the grades in PostgreSQL too.
    assert "generate_feedback" not in postgres_graded.result.stderr
    assert {"solution", "untouched"} <= set(postgres_graded.feedback)
    leftovers = sorted(str(p.relative_to(postgres_graded.course)) for p in postgres_graded.course.rglob("*.db"))
    assert leftovers == [], f"the PostgreSQL course got SQLite files: {leftovers}"


def test_both_courses_write_the_same_csv(graded):
    students, sqlite_graded, postgres_graded = graded
    assert sqlite_graded.result.returncode == postgres_graded.result.returncode == 1  # the broken file
    assert "broken_json" in postgres_graded.result.stderr
    assert [row["student_id"] for row in postgres_graded.csv_rows] == students
    by_student = {row["student_id"]: row for row in postgres_graded.csv_rows}
    assert by_student["solution"]["score"] == "17" and by_student["solution"]["max_score"] == "20"
    assert by_student["solution"]["needs_manual_grade"] == "yes"
    assert by_student["broken_json"]["score"] in ("", "0")
    assert without_course_paths(postgres_graded.csv_rows, postgres_graded.course) == \
        without_course_paths(sqlite_graded.csv_rows, sqlite_graded.course)


def test_both_courses_write_the_same_results_per_student(graded):
    students, sqlite_graded, postgres_graded = graded

    def comparable(graded_: Graded) -> dict:
        kept = {}
        for student, data in graded_.results.items():
            data = dict(data, notebooks=[{k: v for k, v in nb.items() if k != "seconds"} for nb in data["notebooks"]])
            kept[student] = without_course_paths(data, graded_.course)
        return kept

    assert set(postgres_graded.results) == set(students)
    solution = postgres_graded.results["solution"]
    assert solution["score"] == 17 and any(t["status"] == "needs manual grading"
                                           for t in solution["notebooks"][0]["tests"])
    assert comparable(postgres_graded) == comparable(sqlite_graded)


def test_both_gradebooks_hold_the_same_rows(graded):
    students, sqlite_graded, postgres_graded = graded
    postgres_rows = {k: v for k, v in postgres_graded.gradebook.items() if k != "dialect"}
    sqlite_rows = {k: v for k, v in sqlite_graded.gradebook.items() if k != "dialect"}
    assert postgres_rows["students"] == students
    assert len(postgres_rows["cells"]) == 7
    assert len(postgres_rows["grades"]) >= 6 * 7 - 7  # every graded student has a row per part
    assert any(score for *_, score, _, _ in postgres_rows["grades"])
    assert postgres_rows == sqlite_rows


def test_report_reads_a_manual_grade_from_postgresql(graded):
    """A grader scores the written answer in Formgrader; `autograder report` re-exports from PostgreSQL."""
    _, _, postgres_graded = graded
    with Gradebook(postgres_graded.db_url, "nn-from-scratch") as gradebook:
        grade = gradebook.find_grade(MANUAL_PART, ASSIGNMENT, ASSIGNMENT, "solution")
        assert grade.needs_manual_grade and grade.auto_score is None
        grade.manual_score = 2.5  # what Formgrader's grade handler stores
        grade.needs_manual_grade = False
        gradebook.db.commit()
    result = run_autograder("--quiet", "report", ASSIGNMENT, cwd=postgres_graded.course, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with (postgres_graded.course / "grades" / f"{ASSIGNMENT}.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert rows["solution"]["score"] == "19.5" and rows["solution"][MANUAL_PART] == "2.5"
    assert rows["solution"]["needs_manual_grade"] == "no" and rows["solution"]["status"] == "graded"
    before = {row["student_id"]: row for row in postgres_graded.csv_rows}
    assert before["solution"]["score"] == "17" and before["solution"][MANUAL_PART] == ""
    # Everyone else's scores are as graded (the status no longer lists grading-time problems: report re-reads
    # only the gradebook).
    unchanged = lambda table: {s: {k: v for k, v in r.items() if k != "status"} for s, r in table.items()
                               if s != "solution"}
    assert unchanged(rows) == unchanged(before)
    feedback = postgres_graded.course / "feedback" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    assert feedback.is_file() and "19.5" in feedback.read_text(encoding="utf-8")
    assert not list(postgres_graded.course.rglob("*.db"))


def test_the_deployment_gradebook_url_reaches_postgresql_through_its_socket(graded, postgres):
    """deploy/jupyterhub/course_settings.py's URL, pointed at this server's socket folder, opens the same gradebook."""
    settings = PyFileConfigLoader("course_settings.py", path=str(ROOT / "deploy" / "jupyterhub")).load_config()
    url = make_url(settings.CourseDirectory.db_url)
    assert url.drivername == "postgresql+psycopg2" and url.host is None and url.password is None
    assert (url.username, url.database, url.query["host"]) == (ROLE, DATABASE, "/var/run/postgresql")
    here = url.update_query_dict({"host": str(postgres.sockets), "port": str(postgres.port)})
    with Gradebook(here.render_as_string(hide_password=False), "nn-from-scratch") as gradebook:
        assert sorted(s.id for s in gradebook.students) == graded[0]
        assert gradebook.find_assignment(ASSIGNMENT).max_score == 20
