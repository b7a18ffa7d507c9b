"""Release and collect through nbgrader's exchange on one Linux machine, with real Unix accounts.

The course, set up as tools/exchange-setup.sh sets it up: an instructor account releases an assignment; student
accounts fetch it, edit it and submit it (one twice, one after the due date, one who is not in the roster);
the instructor collects, grades with `autograder grade` (bubblewrap, unprivileged) and releases feedback; the
students fetch their feedback. Along the way one student attacks the others' work, the course files and the
exchange, and every attempt must fail. The same attacks then run against a course left with nbgrader's
defaults, where each succeeds: that is what each piece of the course's configuration is for.

Needs root (it creates and removes accounts, named uniquely for each run). The accounts cannot run the project's
interpreter (/root is closed to them), so a virtual environment with the course installed is built once, from
Debian's python3, in a folder every account can read (about 50 s with a warm pip cache).
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, copy_course

pytestmark = pytest.mark.slow  # installs the course into a new environment

ASSIGNMENT = "ps1_gradient_descent"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_ID = "nn-from-scratch"
NEED_ROOT = ("tests/test_exchange.py needs root: it creates Unix accounts (useradd) for an instructor and "
             "students, and runs nbgrader as each of them")
SETUP = ROOT / "tools" / "exchange-setup.sh"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's timestamps (Exchange.timestamp_format, in UTC)


def test_runs_as_root():
    assert os.geteuid() == 0, NEED_ROOT


class NeedsRoot:
    """What the fixtures give when not run as root: any use of it fails the test, saying why."""

    def __getattr__(self, name):
        pytest.fail(NEED_ROOT)

    def __getitem__(self, key):
        pytest.fail(NEED_ROOT)


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)


def _checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _install_course(folder: Path, *options: str) -> None:
    """pip install the course from a copy (no build folder is left in, or reused from, the work tree)."""
    project = folder / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project)
    for package in ("autograder", "nnfs"):
        shutil.copytree(ROOT / package, project / package, ignore=shutil.ignore_patterns("__pycache__"))
    _checked(_run([folder / "venv/bin/python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   *options, project], timeout=600))
    shutil.rmtree(project)


@pytest.fixture(scope="session")
def course_env():
    """bin/ of a virtual environment with the course installed, readable by every account.

    NNFS_EXCHANGE_ENV=<folder> keeps the environment in that folder between runs (the course is reinstalled
    into it each time, without its dependencies): for working on these tests.
    """
    if os.geteuid() != 0:
        yield NeedsRoot()
        return
    kept = os.environ.get("NNFS_EXCHANGE_ENV")
    folder = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="nnfs-exchange-env-", dir="/tmp"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        if kept and (folder / "venv" / "bin" / "python").exists():
            _install_course(folder, "--no-deps", "--force-reinstall")
        else:
            _checked(_run(["/usr/bin/python3", "-m", "venv", folder / "venv"], timeout=300))
            _install_course(folder)
        yield folder / "venv" / "bin"
    finally:
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Account:
    name: str
    home: Path
    uid: int
    gid: int
    bin: Path
    env: dict = field(default_factory=dict)

    def run(self, *argv, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
        """Run a command as this account, with its own HOME, a clean environment and the course's tools."""
        variables = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name, "LANG": "C.UTF-8",
                     "PATH": f"{self.bin}:/usr/bin:/bin", **self.env, **(env or {})}
        command = ["runuser", "-u", self.name, "--", "env", "-i",
                   *(f"{key}={value}" for key, value in variables.items()), *argv]
        return _run(command, cwd=cwd or self.home, timeout=timeout)

    def nbgrader(self, *args, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return self.run("nbgrader", *args, cwd=cwd)

    def attempt(self, *operations) -> list[str]:
        """Try file operations as this account; each gives "ok: <what it read>" or the errno name."""
        result = _checked(self.run(f"{self.bin}/python", "-c", ATTEMPTS, json.dumps(operations)))
        return json.loads(result.stdout)


# Run as an account: each operation is [kind, path, (argument)]; prints one outcome per operation.
ATTEMPTS = r"""
import errno, json, os, sys
outcomes = []
for kind, path, *rest in json.loads(sys.argv[1]):
    try:
        if kind == "read":
            with open(path, "rb") as handle:
                value = handle.read(1 << 20).decode("utf-8", "replace")
        elif kind == "list":
            value = sorted(os.listdir(path))
        elif kind == "write":
            with open(path, "w") as handle:
                handle.write(rest[0])
            value = "written"
        elif kind == "unlink":
            os.unlink(path)
            value = "removed"
        elif kind == "rename":
            os.rename(path, rest[0])
            value = "renamed"
        elif kind == "mkdir":
            os.mkdir(path, 0o777)
            os.chmod(path, int(rest[0], 8) if rest else 0o777)
            value = "made"
        elif kind == "symlink":
            os.symlink(rest[0], path)
            value = "linked"
        outcomes.append("ok: " + json.dumps(value))
    except OSError as error:
        outcomes.append(errno.errorcode.get(error.errno, str(error.errno)))
print(json.dumps(outcomes))
"""

DENIED = {"EACCES", "EPERM"}


class Accounts:
    """Accounts made for this run (removed at teardown, also after a failure)."""

    def __init__(self, bin_folder: Path):
        self.prefix = "nx" + secrets.token_hex(3)
        self.bin = bin_folder
        self.made: list[str] = []

    def add(self, role: str) -> Account:
        name = f"{self.prefix}{role}"
        self.made.append(name)  # before useradd: a half-made account is removed too
        _checked(_run(["useradd", "--create-home", "--shell", "/bin/bash", name]))
        entry = pwd.getpwnam(name)
        return Account(name, Path(entry.pw_dir), entry.pw_uid, entry.pw_gid, self.bin)

    def remove(self) -> None:
        left = []
        for name in reversed(self.made):
            _run(["userdel", "--force", "--remove", name])
            try:
                pwd.getpwnam(name)
                left.append(name)
            except KeyError:
                pass
        assert not left, f"accounts not removed: {left}"


@pytest.fixture(scope="module")
def accounts(course_env):
    made = Accounts(course_env)
    try:
        yield made
    finally:
        made.remove()


def _scratch(owner: Account | None = None) -> Path:
    """A folder in /tmp that every account can enter (pytest's own tmp_path is closed to them)."""
    folder = Path(tempfile.mkdtemp(prefix="nnfs-exchange-", dir="/tmp"))
    folder.chmod(0o755)
    if owner is not None:
        os.chown(folder, owner.uid, owner.gid)
    return folder


def _notebook(path: Path, marker: str | None = None, source: Path | None = None) -> None:
    """Write a student's notebook in place (keeping its owner): the source's cells, plus a marker cell.

    From the instructor notebook, a student's solution: its code without nbgrader's solution markers.
    """
    notebook = nbformat.read(source or path, as_version=4)
    for cell in notebook.cells:
        cell.source = "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    if marker:
        notebook.cells.append(nbformat.v4.new_markdown_cell(marker))
    with path.open("w", encoding="utf-8") as handle:  # an existing file: it stays the student's
        nbformat.write(notebook, handle)


def _inbound(exchange: Path, course_id: str = COURSE_ID) -> Path:
    return exchange / course_id / "inbound"


def _submissions(exchange: Path, student: str, course_id: str = COURSE_ID) -> list[Path]:
    """A student's submission folders in the inbound, oldest first (as root, who can list it)."""
    found = {}
    for path in _inbound(exchange, course_id).iterdir():
        parts = path.name.split("+")
        if len(parts) >= 3 and parts[:2] == [student, ASSIGNMENT]:
            try:
                found[path] = datetime.strptime(parts[2], TIME_FORMAT)
            except ValueError:
                continue  # not a submission's name
    return sorted(found, key=found.get)


# What a student names on the command line to use nbgrader's own submit instead of the course's
NBGRADER_SUBMIT = "--ExchangeFactory.submit=nbgrader.exchange.default.submit.ExchangeSubmit"


def _submit_in_the_name_of(bob: Account, alice: Account, course: Path, *options: str) -> subprocess.CompletedProcess:
    """bob hands in a notebook marked FORGED BY BOB with `nbgrader submit --student=<alice>` (and options)."""
    forged = bob.home / "forged" / ASSIGNMENT
    forged.mkdir(parents=True, exist_ok=True)
    shutil.copy(course / "assignments" / ASSIGNMENT / NOTEBOOK, forged)
    _notebook(forged / NOTEBOOK, "FORGED BY BOB")
    _checked(_run(["chown", "-R", f"{bob.uid}:{bob.gid}", bob.home / "forged"]))
    return bob.run("nbgrader", "submit", ASSIGNMENT, f"--student={alice.name}", *options, cwd=forged.parent)


@dataclass
class Flow:
    exchange: Path
    course: Path
    instructor: Account
    alice: Account
    bob: Account
    eve: Account
    due: datetime
    steps: dict = field(default_factory=dict)  # name -> CompletedProcess
    attacks: dict = field(default_factory=dict)  # name -> outcome
    paths: dict = field(default_factory=dict)


def _run_flow(base: Path, instructor: Account, alice: Account, bob: Account, eve: Account) -> Flow:
    """The whole course flow through a configured exchange, with bob's attacks; every step's result is kept."""
    exchange = base / "exchange"
    course = copy_course(instructor.home / "course")
    _checked(_run(["bash", SETUP, exchange, instructor.name, course, alice.name, bob.name, eve.name]))
    instructor.env["NBGRADER_EXCHANGE"] = str(exchange)
    flow = Flow(exchange, course, instructor, alice, bob, eve, due=None)
    steps = flow.steps

    steps["release"] = instructor.nbgrader("release_assignment", ASSIGNMENT, cwd=course)
    roster = base / "roster.csv"
    roster.write_text(f"id\n{alice.name}\n{bob.name}\n")
    roster.chmod(0o644)
    steps["roster"] = instructor.nbgrader("db", "student", "import", roster, cwd=course)
    for student in (alice, bob, eve):
        steps[f"fetch {student.name}"] = student.nbgrader("fetch_assignment", ASSIGNMENT)
    source = course / "source" / ASSIGNMENT / NOTEBOOK

    # alice hands in the untouched notebook, then her solution; then the due date passes.
    steps["alice submits first"] = alice.nbgrader("submit", ASSIGNMENT)
    _notebook(alice.home / ASSIGNMENT / NOTEBOOK, f"alice {secrets.token_hex(4)}", source)
    steps["alice submits again"] = alice.nbgrader("submit", ASSIGNMENT)
    flow.due = datetime.now(timezone.utc).replace(tzinfo=None)
    steps["due date"] = instructor.nbgrader("db", "assignment", "add", ASSIGNMENT,
                                            f"--duedate={flow.due.strftime(TIME_FORMAT)}", cwd=course)
    _notebook(bob.home / ASSIGNMENT / NOTEBOOK, "bob, late", source)
    steps["bob submits late"] = bob.nbgrader("submit", ASSIGNMENT)
    # ... and then writes an on-time moment into his submission's timestamp.txt, which is his own file.
    late = [p for p in _submissions(exchange, bob.name) if p.stat().st_uid == bob.uid][-1]
    flow.paths["backdated"] = late
    early = (flow.due - timedelta(hours=1)).strftime(TIME_FORMAT)
    flow.attacks["backdate"] = bob.attempt(["write", str(late / "timestamp.txt"), early])
    _notebook(eve.home / ASSIGNMENT / NOTEBOOK, "eve", source)
    steps["eve submits"] = eve.nbgrader("submit", ASSIGNMENT)

    # bob hands in work in alice's name, and a submission whose notebook links to the instructor notebook.
    flow.attacks["bob submits as alice"] = _submit_in_the_name_of(bob, alice, course)
    # The course's submit refuses; bob names nbgrader's own on the command line, and that one takes it.
    steps["bob submits as alice with nbgrader's submit"] = _submit_in_the_name_of(bob, alice, course, NBGRADER_SUBMIT)
    linked = _inbound(exchange) / f"{bob.name}+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+link"
    flow.attacks["link"] = bob.attempt(["mkdir", str(linked)], ["symlink", str(linked / NOTEBOOK), str(source)])
    flow.paths["link"] = linked
    flow.paths["junk"] = _inbound(exchange) / f"{bob.name}+{ASSIGNMENT}+soon"
    flow.attacks["junk"] = bob.attempt(["mkdir", str(flow.paths["junk"])])

    steps["collect"] = instructor.nbgrader("collect", ASSIGNMENT, cwd=course)
    steps["grade"] = instructor.run("autograder", "grade", ASSIGNMENT, cwd=course)
    steps["release feedback"] = instructor.nbgrader("release_feedback", ASSIGNMENT, cwd=course)
    for student in (alice, bob):
        steps[f"fetch feedback {student.name}"] = student.nbgrader("fetch_feedback", ASSIGNMENT)

    # Everything bob might reach of alice's work, the instructor's files and the exchange.
    latest = [p for p in _submissions(exchange, alice.name) if p.stat().st_uid == alice.uid][-1]
    secret = (latest / "submission_secret.txt").read_text()
    from nbgrader.utils import notebook_hash
    feedback = exchange / COURSE_ID / "feedback" / f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
    cache = alice.home / ".local/share/jupyter/nbgrader_cache" / COURSE_ID / latest.name.rsplit("+", 1)[0]
    fetched = sorted((alice.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    flow.paths.update(latest=latest, feedback=feedback, cache=cache, fetched=fetched)
    targets = {  # what only reads first; what would change something after, the course folder last
        "list inbound": ["list", str(_inbound(exchange))],
        "read alice's submission": ["read", str(latest / NOTEBOOK)],
        "list alice's submission": ["list", str(latest)],
        "read alice's secret in the inbound": ["read", str(latest / "submission_secret.txt")],
        "list the feedback": ["list", str(exchange / COURSE_ID / "feedback")],
        "read alice's feedback": ["read", str(feedback)],
        "read alice's local copy": ["read", str(cache / "submission_secret.txt")],
        "read alice's fetched feedback": ["read", str(fetched[0] if fetched else alice.home / "none")],
        "list alice's home": ["list", str(alice.home)],
        "list the course": ["list", str(course)],
        "read the instructor notebook": ["read", str(source)],
        "read the gradebook": ["read", str(course / "gradebook.db")],
        "read a collected submission": ["read", str(course / "submitted" / alice.name / ASSIGNMENT / NOTEBOOK)],
        "write into alice's submission": ["write", str(latest / "extra.txt"), "bob was here"],
        "remove alice's notebook": ["unlink", str(latest / NOTEBOOK)],
        "rename alice's submission": ["rename", str(latest), str(_inbound(exchange) / "moved")],
        "replace the course folder": ["rename", str(exchange / COURSE_ID), str(exchange / "stolen")],
    }
    # Each attack aims at something real (a write, at a real folder).
    flow.paths["real"] = {name: Path(target[1] if target[0] != "write" else Path(target[1]).parent).exists()
                          for name, target in targets.items()}
    flow.paths["targets"] = targets
    flow.attacks["alice reads her feedback"] = alice.attempt(["read", str(feedback)])[0]
    flow.attacks.update(zip(targets, bob.attempt(*targets.values())))
    return flow


def _rows(course: Path) -> dict:
    with (course / "grades" / f"{ASSIGNMENT}.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _gradebook(course: Path):
    from nbgrader.api import Gradebook
    return Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID)


def test_the_whole_flow_runs_as_the_accounts(flow):
    for name, result in flow.steps.items():
        if name != "grade":
            assert result.returncode == 0, f"{name}: {result.args}\n{result.stdout}\n{result.stderr}"
    grade = flow.steps["grade"]
    assert grade.returncode == 0, f"autograder grade as {flow.instructor.name}:\n{grade.stdout}\n{grade.stderr}"
    assert "cannot be sandboxed" not in grade.stdout + grade.stderr
    rows = _rows(flow.course)
    assert set(rows) == {flow.alice.name, flow.bob.name}
    # The solution's 17 automatic points can only come from running it (in bubblewrap, as the instructor).
    assert rows[flow.alice.name]["score"] == "17" and rows[flow.bob.name]["score"] == "17", rows
    autograded = flow.course / "autograded" / flow.alice.name / ASSIGNMENT / NOTEBOOK
    assert autograded.stat().st_uid == flow.instructor.uid
    for student, own, other in ((flow.alice, "alice ", "bob, late"), (flow.bob, "bob, late", "alice ")):
        fetched = sorted((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(fetched) == 1, f"{student.name} fetched {fetched}"
        assert fetched[0].stat().st_uid == student.uid
        page = fetched[0].read_text()
        assert "17" in page and own in page and other not in page  # their own feedback, not the other's


def test_the_exchange_is_laid_out_as_the_setup_script_says(flow):
    modes = {path: oct(path.stat().st_mode & 0o7777) for path in
             (flow.exchange, flow.exchange / COURSE_ID, _inbound(flow.exchange),
              flow.exchange / COURSE_ID / "outbound", flow.exchange / COURSE_ID / "feedback", flow.course)}
    assert list(modes.values()) == ["0o1777", "0o755", "0o3733", "0o755", "0o711", "0o700"], modes
    assert (flow.exchange / COURSE_ID).stat().st_uid == flow.instructor.uid
    for student in (flow.alice, flow.bob, flow.eve):
        assert student.home.stat().st_mode & 0o777 == 0o700
        config = (student.home / ".jupyter" / "nbgrader_config.py").read_text()
        assert f'"{COURSE_ID}"' in config and f'"{flow.exchange}"' in config and "@" not in config


def test_submissions_belong_to_their_student_and_the_instructors_group(flow):
    for folder in [p for p in _submissions(flow.exchange, flow.alice.name) if p.stat().st_uid == flow.alice.uid]:
        entries = [folder, *folder.iterdir()]
        assert {(p.stat().st_uid, p.stat().st_gid) for p in entries} == {(flow.alice.uid, flow.instructor.gid)}
        assert {p.name: oct(p.stat().st_mode & 0o7777) for p in entries} == {
            folder.name: "0o770", NOTEBOOK: "0o640", "timestamp.txt": "0o640", "submission_secret.txt": "0o640"}
    cache = flow.alice.home / ".local/share/jupyter/nbgrader_cache" / COURSE_ID
    assert cache.stat().st_mode & 0o777 == 0o700


def test_resubmission_the_latest_is_graded_and_the_earlier_kept(flow):
    own = [p for p in _submissions(flow.exchange, flow.alice.name) if p.stat().st_uid == flow.alice.uid]
    assert len(own) == 2, own  # both of alice's submissions are still in the inbound
    first, second = own
    assert "alice " not in (first / NOTEBOOK).read_text() and "alice " in (second / NOTEBOOK).read_text()
    collected = flow.course / "submitted" / flow.alice.name / ASSIGNMENT
    assert (collected / "timestamp.txt").read_text() == (second / "timestamp.txt").read_text()
    assert (collected / NOTEBOOK).read_bytes() == (second / NOTEBOOK).read_bytes()
    assert "Collecting submission" in flow.steps["collect"].stderr
    # The first was the untouched notebook (0 points); the grade is the second's.
    assert _rows(flow.course)[flow.alice.name]["score"] == "17"
    with _gradebook(flow.course) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, flow.alice.name)
        assert submission.timestamp.strftime(TIME_FORMAT) == (second / "timestamp.txt").read_text()


def test_late_submission_is_recorded_and_reported(flow):
    with _gradebook(flow.course) as gradebook:
        assert gradebook.find_assignment(ASSIGNMENT).duedate.strftime(TIME_FORMAT) == flow.due.strftime(TIME_FORMAT)
        bob = gradebook.find_submission(ASSIGNMENT, flow.bob.name)
        alice = gradebook.find_submission(ASSIGNMENT, flow.alice.name)
        assert bob.total_seconds_late > 0 and alice.total_seconds_late == 0
        assert bob.late_submission_penalty == 0  # nbgrader's default LateSubmissionPlugin: no penalty
        seconds = bob.total_seconds_late
    rows = _rows(flow.course)
    assert "late by 0:00:" in rows[flow.bob.name]["status"] and "(no penalty)" in rows[flow.bob.name]["status"]
    assert "late" not in rows[flow.alice.name]["status"]
    printed = [line for line in flow.steps["grade"].stdout.splitlines() if line.startswith(flow.bob.name)]
    assert len(printed) == 1 and "late by" in printed[0], flow.steps["grade"].stdout
    result = json.loads((flow.course / "grades" / ASSIGNMENT / f"{flow.bob.name}.json").read_text())
    assert result["seconds_late"] == pytest.approx(seconds) and result["late_penalty"] == 0
    assert result["submitted_at"].endswith(" UTC")


def test_a_backdated_submission_is_collected_with_the_time_its_files_changed(flow):
    assert flow.attacks["backdate"] == ['ok: "written"']  # nbgrader leaves timestamp.txt to its student
    folder = flow.paths["backdated"]
    assert (folder / "timestamp.txt").read_text().startswith((flow.due - timedelta(hours=1)).strftime("%Y-%m-%d"))
    collect = flow.steps["collect"].stderr
    assert f"inbound/{folder.name} claims to be from " in collect and "but its files last changed at" in collect
    recorded = (flow.course / "submitted" / flow.bob.name / ASSIGNMENT / "timestamp.txt").read_text()
    assert datetime.strptime(recorded, TIME_FORMAT) > flow.due  # so it is graded as late (see the test above)


def test_a_student_not_in_the_roster_is_not_collected(flow):
    collect = flow.steps["collect"].stderr
    assert (f"Not collected: {flow.eve.name} submitted {ASSIGNMENT} (inbound/{flow.eve.name}+{ASSIGNMENT}+"
            in collect), collect
    assert f"is not in the course roster; if they take the course, add them with `nbgrader db student add " \
           f"{flow.eve.name}` and collect again" in collect
    assert not (flow.course / "submitted" / flow.eve.name).exists()
    assert flow.eve.name not in _rows(flow.course)
    assert len(_submissions(flow.exchange, flow.eve.name)) == 1  # left in the exchange for the instructor


def test_work_handed_in_under_another_name_is_refused_then_not_collected(flow):
    refused = flow.attacks["bob submits as alice"]
    assert refused.returncode != 0
    assert (f"Not submitted: you are logged in as {flow.bob.name}, and work can only be handed in under your own "
            f"name, not as {flow.alice.name}") in refused.stdout + refused.stderr
    assert flow.steps["bob submits as alice with nbgrader's submit"].returncode == 0  # nbgrader's lets bob do it
    forged = [p for p in _submissions(flow.exchange, flow.alice.name) if p.stat().st_uid == flow.bob.uid]
    assert len(forged) == 1
    assert f"Not collected: inbound/{forged[0].name} claims to be from {flow.alice.name} but was made by " \
           f"{flow.bob.name}" in flow.steps["collect"].stderr
    collected = (flow.course / "submitted" / flow.alice.name / ASSIGNMENT / NOTEBOOK).read_text()
    assert "FORGED BY BOB" not in collected and "alice" in collected


def test_a_submission_holding_a_link_is_not_collected(flow):
    assert flow.attacks["link"] == ['ok: "made"', 'ok: "linked"']  # nbgrader's inbound lets bob make it
    assert f"Not collected: {flow.bob.name}'s submission inbound/{flow.paths['link'].name} holds {NOTEBOOK}, a " \
           f"symbolic link" in flow.steps["collect"].stderr
    collected = flow.course / "submitted" / flow.bob.name / ASSIGNMENT
    assert not (collected / "timestamp.txt").read_text().startswith("2099")  # his real (late) one instead
    assert "bob, late" in (collected / NOTEBOOK).read_text()
    assert "BEGIN SOLUTION" not in (collected / NOTEBOOK).read_text()
    assert "BEGIN SOLUTION" not in (flow.course / "feedback" / flow.bob.name / ASSIGNMENT /
                                    f"{ASSIGNMENT}.html").read_text()


def test_a_folder_with_a_malformed_name_is_passed_over(flow):
    assert flow.attacks["junk"] == ['ok: "made"']
    assert f"Not collected: inbound/{flow.paths['junk'].name}: not a submission folder name" \
           in flow.steps["collect"].stderr
    assert flow.steps["collect"].returncode == 0


# What bob tries against alice's work, the instructor's files and the exchange (the targets of _run_flow).
ATTACKS = {
    "another student's submission": [
        "list inbound", "read alice's submission", "list alice's submission", "write into alice's submission",
        "remove alice's notebook", "rename alice's submission", "read alice's secret in the inbound"],
    "the instructor's files": [
        "list the course", "read the instructor notebook", "read the gradebook", "read a collected submission",
        "replace the course folder"],
    "another student's feedback": [
        "list the feedback", "read alice's feedback", "read alice's local copy", "read alice's fetched feedback",
        "list alice's home"],
}


@pytest.mark.parametrize("aim, attack", [(aim, attack) for aim, attacks in ATTACKS.items() for attack in attacks],
                         ids=[attack for attacks in ATTACKS.values() for attack in attacks])
def test_a_student_cannot_reach_others_work_or_the_instructors_files(flow, aim, attack):
    assert flow.paths["real"][attack], f"{attack}: its target ({aim}) does not exist, so the attempt proves nothing"
    assert flow.attacks[attack] in DENIED, f"bob could {attack} ({aim}): {flow.attacks[attack]}"


def test_every_attack_of_the_flow_is_checked(flow):
    assert sorted(flow.paths["targets"]) == sorted(attack for attacks in ATTACKS.values() for attack in attacks)


def test_a_student_reads_their_own_feedback_in_the_exchange(flow):
    assert flow.attacks["alice reads her feedback"].startswith("ok: ")


def test_a_configured_late_penalty_is_applied(flow):
    """It grades again, with nbgrader's "zero" penalty for late work (only the test after it comes later)."""
    with (flow.course / "nbgrader_config.py").open("a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    grade = flow.instructor.run("autograder", "--quiet", "grade", ASSIGNMENT, "--no-feedback", cwd=flow.course)
    assert grade.returncode == 0, grade.stdout + grade.stderr
    rows = _rows(flow.course)
    assert rows[flow.bob.name]["score"] == "0" and "late by" in rows[flow.bob.name]["status"]
    assert "17 points off" in rows[flow.bob.name]["status"]
    assert rows[flow.alice.name]["score"] == "17"  # on time: no penalty
    with _gradebook(flow.course) as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, flow.bob.name).late_submission_penalty == 17
        assert gradebook.find_submission(ASSIGNMENT, flow.alice.name).late_submission_penalty == 0
    exported = flow.instructor.run("autograder", "export", cwd=flow.course)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    with (flow.course / "grades" / "lms.csv").open() as handle:
        lms = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert (lms[flow.bob.name][ASSIGNMENT], lms[flow.alice.name][ASSIGNMENT]) == ("0", "17")  # after the penalty


def test_collecting_again_takes_a_resubmission_with_update_and_a_student_added_to_the_roster(flow):
    """Last of the course's tests: alice hands in a third time after her work was collected (and the due date),
    eve is added to the roster; the instructor collects again, as the messages say."""
    _notebook(flow.alice.home / ASSIGNMENT / NOTEBOOK, "alice, third", flow.course / "source" / ASSIGNMENT / NOTEBOOK)
    _checked(flow.alice.nbgrader("submit", ASSIGNMENT))
    third = [p for p in _submissions(flow.exchange, flow.alice.name) if p.stat().st_uid == flow.alice.uid][-1]
    collected = flow.course / "submitted" / flow.alice.name / ASSIGNMENT

    plain = _checked(flow.instructor.nbgrader("collect", ASSIGNMENT, cwd=flow.course))
    assert f"Submission already exists, use --update to update: {flow.alice.name}" in plain.stderr
    assert "alice, third" not in (collected / NOTEBOOK).read_text()  # what was graded stays until asked
    assert f"Not collected: {flow.eve.name} submitted" in plain.stderr

    _checked(flow.instructor.nbgrader("db", "student", "add", flow.eve.name, cwd=flow.course))
    updated = _checked(flow.instructor.nbgrader("collect", "--update", ASSIGNMENT, cwd=flow.course))
    assert "alice, third" in (collected / NOTEBOOK).read_text()
    assert (collected / "timestamp.txt").read_text() == (third / "timestamp.txt").read_text()
    assert len([p for p in _submissions(flow.exchange, flow.alice.name) if p.stat().st_uid == flow.alice.uid]) == 3
    assert f"Not collected: {flow.eve.name}" not in updated.stderr
    assert "eve" in (flow.course / "submitted" / flow.eve.name / ASSIGNMENT / NOTEBOOK).read_text()
    # Bob's forged, linked and malformed entries are still refused, every time.
    assert updated.stderr.count("Not collected: ") == plain.stderr.count("Not collected: ") - 1


# ---- The same attacks on a course left with nbgrader's defaults: each one succeeds. ----


@dataclass
class Defaults:
    exchange: Path
    course: Path
    instructor: Account
    alice: Account
    bob: Account
    steps: dict = field(default_factory=dict)
    found: dict = field(default_factory=dict)


NBGRADER_DEFAULT_CLASSES = """
# nbgrader's own exchange classes, in place of the course's
c.ExchangeFactory.collect = "nbgrader.exchange.default.collect.ExchangeCollect"
c.ExchangeFactory.release_feedback = "nbgrader.exchange.default.release_feedback.ExchangeReleaseFeedback"
"""

# Run as bob: find the folder of alice's latest submission by its name <alice>+<assignment>+<time>, which
# nbgrader's submit gives it when ExchangeSubmit.add_random_string is off. The inbound cannot be listed, but its
# modification time is when the folder was made, a few milliseconds after the time in its name.
GUESS = r"""
import datetime, json, os, sys
inbound, student, assignment = sys.argv[1:4]
made = os.stat(inbound).st_mtime_ns // 1000  # microseconds
tried, second = 0, None
for micro in range(made + 100_000, made - 20_000_000, -1):  # from 0.1 s after to 20 s before
    if micro // 1_000_000 != second:
        second = micro // 1_000_000
        moment = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
        prefix = os.path.join(inbound, f"{student}+{assignment}+{moment:%Y-%m-%d %H:%M:%S}.")
    name = f"{prefix}{micro % 1_000_000:06d} UTC"
    tried += 1
    if os.path.isdir(name):
        print(json.dumps({"name": os.path.basename(name), "tried": tried}))
        break
else:
    print(json.dumps({"name": None, "tried": tried}))
"""

# Run as bob: alice's local copy of her submission holds the secret that names her feedback in the exchange.
STEAL_FEEDBACK = r"""
import glob, json, os, sys
from nbgrader.utils import notebook_hash
cache, feedback, notebook = sys.argv[1:4]
found = {}
for secret_file in glob.glob(os.path.join(cache, "*", "submission_secret.txt")):
    secret = open(secret_file).read()
    path = os.path.join(feedback, notebook_hash(secret=secret, notebook_id=notebook) + ".html")
    if os.path.exists(path):
        found[path] = open(path).read()
print(json.dumps(found))
"""


def _run_defaults(base: Path, instructor: Account, alice: Account, bob: Account) -> Defaults:
    """A course with nbgrader's default exchange: no setup script, nbgrader's classes, plain student settings."""
    exchange = base / "exchange"  # nbgrader makes it when it releases
    course = copy_course(instructor.home / "course")
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(NBGRADER_DEFAULT_CLASSES)
    private = instructor.home / "private.txt"
    private.write_text(f"instructor only {secrets.token_hex(8)}")
    private.chmod(0o600)
    _checked(_run(["chown", "-R", f"{instructor.uid}:{instructor.gid}", course, private]))
    instructor.env["NBGRADER_EXCHANGE"] = str(exchange)
    for student, extra in ((alice, "c.ExchangeSubmit.add_random_string = False\n"), (bob, "")):
        (student.home / ".jupyter").mkdir()
        (student.home / ".jupyter" / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
            + extra)
        _checked(_run(["chown", "-R", f"{student.uid}:{student.gid}", student.home / ".jupyter"]))
    found = Defaults(exchange, course, instructor, alice, bob)
    steps = found.steps
    inbound = _inbound(exchange)

    steps["release"] = instructor.nbgrader("release_assignment", ASSIGNMENT, cwd=course)
    for student in (alice, bob):
        steps[f"fetch {student.name}"] = student.nbgrader("fetch_assignment", ASSIGNMENT)
    _notebook(alice.home / ASSIGNMENT / NOTEBOOK, "alice's own work")
    steps["alice submits"] = alice.nbgrader("submit", ASSIGNMENT)
    found.found["alice's folder"] = _submissions(exchange, alice.name)[0]

    guess = _checked(bob.run(f"{bob.bin}/python", "-c", GUESS, inbound, alice.name, ASSIGNMENT))
    found.found["guess"] = json.loads(guess.stdout)
    if found.found["guess"]["name"]:
        folder = inbound / found.found["guess"]["name"]
        found.found["use the guess"] = bob.attempt(["read", str(folder / NOTEBOOK)],
                                                   ["unlink", str(folder / NOTEBOOK)],
                                                   ["write", str(folder / NOTEBOOK), "OVERWRITTEN BY BOB"])
        found.found["overwritten"] = ((folder / NOTEBOOK).read_text(), (folder / NOTEBOOK).stat().st_uid,
                                      oct(folder.stat().st_mode & 0o777))

    steps["bob submits as alice"] = _submit_in_the_name_of(bob, alice, course)
    now = datetime.now(timezone.utc).strftime(TIME_FORMAT)
    linked = inbound / f"{bob.name}+{ASSIGNMENT}+{now}"
    found.found["link"] = bob.attempt(["mkdir", str(linked)], ["symlink", str(linked / "notes.txt"), str(private)])
    found.found["private"] = private.read_text()

    steps["collect"] = instructor.nbgrader("collect", ASSIGNMENT, cwd=course)
    found.found["junk"] = bob.attempt(["mkdir", str(inbound / f"{bob.name}+{ASSIGNMENT}+soon")])
    steps["collect again"] = instructor.nbgrader("collect", "--update", ASSIGNMENT, cwd=course)

    # Feedback for alice's own submission, released by nbgrader as it comes (no grading needed for this).
    own = found.found["alice's folder"]
    feedback = course / "feedback" / alice.name / ASSIGNMENT
    feedback.mkdir(parents=True)
    (feedback / f"{ASSIGNMENT}.html").write_text(f"feedback for alice {secrets.token_hex(8)}")
    for name in ("timestamp.txt", "submission_secret.txt"):
        shutil.copy(own / name, feedback / name)
    _checked(_run(["chown", "-R", f"{instructor.uid}:{instructor.gid}", course / "feedback"]))
    steps["release feedback"] = instructor.nbgrader("release_feedback", ASSIGNMENT, cwd=course)
    stolen = bob.run(f"{bob.bin}/python", "-c", STEAL_FEEDBACK,
                     alice.home / ".local/share/jupyter/nbgrader_cache" / COURSE_ID,
                     exchange / COURSE_ID / "feedback", ASSIGNMENT)
    found.found["feedback"] = json.loads(_checked(stolen).stdout)
    found.found["feedback given"] = (feedback / f"{ASSIGNMENT}.html").read_text()

    found.found["course files"] = bob.attempt(["read", str(course / "source" / ASSIGNMENT / NOTEBOOK)],
                                              ["read", str(course / "gradebook.db")])

    # Last, as it takes the exchange over: bob puts his own course folder in place of the instructor's.
    swap = exchange / COURSE_ID
    found.found["swap"] = bob.attempt(
        ["rename", str(swap), str(exchange / "old")], ["mkdir", str(swap), "755"],
        ["mkdir", str(swap / "outbound"), "755"], ["mkdir", str(swap / "outbound" / ASSIGNMENT), "755"],
        ["write", str(swap / "outbound" / ASSIGNMENT / NOTEBOOK),
         (course / "assignments" / ASSIGNMENT / NOTEBOOK).read_text()],
        ["mkdir", str(swap / "inbound"), "733"])
    steps["alice submits again"] = alice.nbgrader("submit", ASSIGNMENT)
    captured = [p for p in (swap / "inbound").iterdir()] if (swap / "inbound").is_dir() else []
    found.found["captured"] = bob.attempt(*(["read", str(p / NOTEBOOK)] for p in captured))
    return found


def test_defaults_the_flow_itself_works(defaults):
    for name in ("release", f"fetch {defaults.alice.name}", "alice submits", "collect", "release feedback"):
        assert defaults.steps[name].returncode == 0, f"{name}:\n{defaults.steps[name].stderr}"


def test_defaults_nbgrader_makes_the_exchange_without_the_sticky_bit(defaults):
    assert defaults.exchange.stat().st_mode & 0o7777 == 0o777
    # ... so bob renames the course's folder and puts his own in its place; alice's next submission is his.
    assert defaults.found["swap"] == ['ok: "renamed"'] + ['ok: "made"'] * 3 + ['ok: "written"', 'ok: "made"']
    assert defaults.steps["alice submits again"].returncode == 0
    assert len(defaults.found["captured"]) == 1 and "alice's own work" in defaults.found["captured"][0]


def test_defaults_a_course_folder_under_umask_022_is_readable(defaults):
    source, gradebook = defaults.found["course files"]
    assert source.startswith("ok: ") and "BEGIN SOLUTION" in source
    assert gradebook.startswith("ok: ") and "SQLite format" in gradebook


def test_defaults_collect_takes_work_handed_in_under_another_name(defaults):
    assert "cheating attempt?" in defaults.steps["collect"].stderr  # nbgrader only warns ...
    collected = (defaults.course / "submitted" / defaults.alice.name / ASSIGNMENT / NOTEBOOK).read_text()
    assert "FORGED BY BOB" in collected  # ... and grades bob's work as alice's


def test_defaults_a_folder_with_a_malformed_name_stops_collect_for_everyone(defaults):
    assert defaults.found["junk"] == ['ok: "made"']
    again = defaults.steps["collect again"]
    assert again.returncode != 0 and "Traceback" in again.stderr and "soon" in again.stderr, again.stderr


def test_defaults_collect_follows_links_as_the_instructor(defaults):
    assert defaults.found["link"] == ['ok: "made"', 'ok: "linked"']
    copied = defaults.course / "submitted" / defaults.bob.name / ASSIGNMENT / "notes.txt"
    assert not copied.is_symlink() and copied.read_text() == defaults.found["private"]


def test_defaults_a_submission_without_its_time_is_collected_as_timeless(defaults):
    # bob's folder (made by hand, like any student can) has no timestamp.txt: grading would never find it late.
    collected = defaults.course / "submitted" / defaults.bob.name / ASSIGNMENT
    assert collected.is_dir() and not (collected / "timestamp.txt").exists()


def test_defaults_without_the_random_string_a_submission_is_found_read_and_overwritten(defaults):
    guess = defaults.found["guess"]
    own = defaults.found["alice's folder"]
    assert guess["name"] == own.name, guess
    read, removed, written = defaults.found["use the guess"]
    assert read.startswith("ok: ") and "alice's own work" in read
    assert (removed, written) == ('ok: "removed"', 'ok: "written"')
    # nbgrader's modes: the notebook was readable by everyone and the folder writable by everyone.
    assert defaults.found["overwritten"] == ("OVERWRITTEN BY BOB", defaults.bob.uid, "0o777")


def test_defaults_feedback_is_read_through_a_home_folder_useradd_leaves_open(defaults):
    assert defaults.alice.home.stat().st_mode & 0o777 == 0o755  # Debian's useradd, HOME_MODE unset
    assert list(defaults.found["feedback"].values()) == [defaults.found["feedback given"]]


# ---- Both courses run at once (each mostly waits for nbgrader to start); their tests read what they left. ----


@pytest.fixture(scope="module")
def scenarios(accounts):
    if os.geteuid() != 0:
        yield None
        return
    configured = [accounts.add(role) for role in ("inst", "alice", "bob", "eve")]
    plain = [accounts.add(role) for role in ("dinst", "dalice", "dbob")]
    bases = [_scratch(), _scratch(owner=plain[0])]
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        yield pool.submit(_run_flow, bases[0], *configured), pool.submit(_run_defaults, bases[1], *plain)
    finally:
        pool.shutdown(wait=True)
        for base in bases:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def flow(scenarios) -> Flow:
    return NeedsRoot() if scenarios is None else scenarios[0].result()


@pytest.fixture(scope="module")
def defaults(scenarios) -> Defaults:
    return NeedsRoot() if scenarios is None else scenarios[1].result()
