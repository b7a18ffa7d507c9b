"""The course on a real JupyterHub, end to end, in a browser.

deploy/jupyterhub/setup.sh runs as an administrator runs it (as root, every folder inside a scratch root, with
its own PostgreSQL server and uniquely named accounts: see setup.sh's header for the variables); then JupyterHub
starts on loopback with the course's jupyterhub_config.py and the real configurable-http-proxy, PAM checks the
passwords of Unix accounts made for this run, and each user's JupyterLab is spawned as that user. In chromium
an instructor releases ps1 from the Formgrader service; two students fetch it from the Assignments tab, one
solves it and one leaves it blank, both submit; the instructor collects, the grader account runs `autograder
grade` (the students' code in the sandbox, under no account of theirs), the written answer is marked in
Formgrader and feedback released; the hub and every server are stopped and started again; each student fetches
and opens their own feedback. What must not work is tried in the browser and on the server, and refused.

Needs root, the proxy (npm's configurable-http-proxy), chromium, bubblewrap and PostgreSQL's server programs
(tools/system-packages.sh installs them all). Without one of them the tests fail, saying which; they never skip.
The accounts cannot run the project's interpreter, so, as README.md's steps say, a virtual environment with the
course, jupyterhub and psycopg2 is built from Debian's python3 in the scratch root (about a minute with a warm
pip cache; NNFS_HUB_ENV=<folder> keeps one between runs, for working on these tests). Screenshots of every step
go to a folder the test names when it fails, where the hub's log and setup.sh's output are then copied
(NNFS_HUB_KEEP_ROOT=1 keeps the whole scratch root).
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from browser_support import STEP_TIMEOUT, Steps, free_port, launch_chromium
from conftest import ROOT
from test_browser import menu, solutions
from test_postgres import SERVER_USER, server_bindir

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the fixture below as a failure, not silently skipped
    expect = sync_playwright = None

pytestmark = pytest.mark.slow  # installs the course into a new environment

ASSIGNMENT = "ps1_gradient_descent"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_ID = "nn-from-scratch"
WRITTEN = "written_two_valleys"  # the answer a person marks in Formgrader (3 points)
DEPLOY = ROOT / "deploy" / "jupyterhub"
# What an administrator's checkout of the course holds that the server uses.
CHECKOUT = ("nbgrader_config.py", "pyproject.toml", "README.md", "LICENSE", "source", "assignments", "lessons",
            "deploy", "tools", "autograder", "nnfs")
HUB_START_TIMEOUT = 120  # seconds for the hub (and the Formgrader service it starts) to answer
SPAWN_TIMEOUT = 180_000  # milliseconds from logging in to a JupyterLab on the screen
VIEWPORT = {"width": 1400, "height": 900}


# --- what the tests need, said plainly when it is missing -------------------------------------------------------

def missing_requirements() -> list[str]:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the test creates Unix accounts, runs setup.sh and starts the hub, which spawns "
                       "servers as other accounts)")
    if not shutil.which("configurable-http-proxy"):
        missing.append("configurable-http-proxy on PATH (npm; tools/system-packages.sh installs it)")
    if not os.access("/usr/bin/chromium", os.X_OK):
        missing.append("/usr/bin/chromium (Debian's chromium; tools/system-packages.sh)")
    if not shutil.which("bwrap"):
        missing.append("bwrap (Debian's bubblewrap; tools/system-packages.sh)")
    if server_bindir() is None:
        missing.append("PostgreSQL's server programs (Debian's postgresql; tools/system-packages.sh)")
    if not os.access("/usr/bin/python3", os.X_OK):
        missing.append("/usr/bin/python3 (Debian's python3, with venv: the accounts' course environment)")
    if sync_playwright is None:
        missing.append("the Python package playwright (`make setup`: a test dependency in pyproject.toml)")
    return missing


def test_everything_the_hub_needs_is_here():
    missing = missing_requirements()
    assert not missing, "tests/test_jupyterhub.py cannot run; missing: " + "; ".join(missing)


# --- processes and accounts -------------------------------------------------------------------------------------

def run(command: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@dataclass
class Account:
    name: str
    password: str
    home: Path
    uid: int
    gid: int


class Accounts:
    """Unix accounts made for this run, with passwords PAM checks; removed at teardown, also after a failure."""

    def __init__(self):
        self.prefix = "nh" + secrets.token_hex(3)
        self.made: list[str] = []

    def add(self, role: str) -> Account:
        name = f"{self.prefix}{role}"
        self.made.append(name)  # before useradd: a half-made account is removed too
        checked(run(["useradd", "--create-home", "--shell", "/bin/bash", name]))
        password = secrets.token_urlsafe(12)
        checked(subprocess.run(["chpasswd"], input=f"{name}:{password}\n", capture_output=True, text=True))
        entry = pwd.getpwnam(name)
        return Account(name, password, Path(entry.pw_dir), entry.pw_uid, entry.pw_gid)

    def processes(self) -> list[int]:
        """Processes still running as one of these accounts (servers, kernels), found by their owner's uid."""
        uids = set()
        for name in self.made:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid in uids:
                        found.append(int(entry.name))
                except FileNotFoundError:
                    pass
        return found

    def remove(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.2)
        left = []
        for name in reversed(self.made):
            run(["userdel", "--force", "--remove", name])
            try:
                pwd.getpwnam(name)
                left.append(name)
            except KeyError:
                pass
        assert not left, f"accounts not removed: {left}"


def as_account(account: str, *argv, cwd: Path | str = "/", env: dict | None = None, bin_folder: Path | None = None,
               timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command as an account, with its own HOME, a clean environment and the course's tools first on PATH."""
    entry = pwd.getpwnam(account)
    variables = {"HOME": entry.pw_dir, "USER": account, "LOGNAME": account, "LANG": "C.UTF-8",
                 "PATH": f"{bin_folder}:/usr/bin:/bin" if bin_folder else "/usr/bin:/bin", **(env or {})}
    command = ["runuser", "-u", account, "--", "env", "-i", *(f"{k}={v}" for k, v in variables.items()), *argv]
    return run(command, cwd=cwd, timeout=timeout)


# Run as an account: each operation is [kind, path]; prints one outcome per operation ("ok: ..." or the errno).
ATTEMPTS = r"""
import errno, json, os, sys
outcomes = []
for kind, path in json.loads(sys.argv[1]):
    try:
        if kind == "read":
            with open(path, "rb") as handle:
                value = handle.read(1 << 16).decode("utf-8", "replace")[:200]
        else:
            value = sorted(os.listdir(path))
        outcomes.append("ok: " + json.dumps(value))
    except OSError as error:
        outcomes.append(errno.errorcode.get(error.errno, str(error.errno)))
print(json.dumps(outcomes))
"""

# Run as an account: connect to the gradebook's database, as that account and as the grader's role.
DATABASE_ATTEMPTS = r"""
import json, sys
import psycopg2
socket, database, grader = sys.argv[1:4]
outcomes = []
for role in (None, grader):
    try:
        psycopg2.connect(host=socket, dbname=database, **({"user": role} if role else {})).close()
        outcomes.append("connected")
    except psycopg2.OperationalError as error:
        outcomes.append(str(error).strip().splitlines()[-1])
print(json.dumps(outcomes))
"""

# Run as the grader account in the course folder: what the gradebook holds for each student.
GRADEBOOK_SCORES = r"""
import json, sys
from nbgrader.api import Gradebook
from autograder.gradebook import load_settings
settings = load_settings(".")
with Gradebook(settings.db_url, course_id=settings.course_id) as gradebook:
    found = {}
    for student in sys.argv[2:]:
        submission = gradebook.find_submission(sys.argv[1], student)
        notebook = submission.notebooks[0]
        written = gradebook.find_grade("written_two_valleys", notebook.name, sys.argv[1], student)
        found[student] = {"score": submission.score, "max_score": submission.max_score,
                          "written": written.score}
print(settings.db_url)
print(json.dumps(found))
"""


# --- the server: its environment, PostgreSQL, setup.sh and the hub -----------------------------------------------

def hub_requirements() -> list[str]:
    """The requirements pyproject.toml's test extras give jupyterhub and psycopg2-binary (one source of bounds)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    return [spec for spec in extras if re.match(r"(jupyterhub|psycopg2-binary)\b", spec)]


def build_course_env(root: Path) -> Path:
    """README.md's step 2: a virtual environment with the course, jupyterhub and psycopg2; returns its bin/."""
    kept = os.environ.get("NNFS_HUB_ENV")
    venv = Path(kept) if kept else root / "opt" / "nnfs" / "venv"
    course = root / "srv" / "nnfs" / "course"
    project = root / "build" / "project"  # the course as pip builds it, outside the course folder
    project.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "autograder", "nnfs"):
        copy = shutil.copytree if (course / name).is_dir() else shutil.copy
        copy(course / name, project / name)
    if kept and (venv / "bin" / "jupyterhub").exists():
        options = ["--no-deps", "--force-reinstall", project]
    else:
        checked(run(["/usr/bin/python3", "-m", "venv", venv], timeout=300))
        options = [project, *hub_requirements()]
    checked(run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 *options], timeout=900))
    shutil.rmtree(root / "build")
    return venv / "bin"


class Postgres:
    """The gradebook's PostgreSQL server: Debian's programs, run as postgres, on a Unix socket in the scratch root,
    peer login only (the setting setup.sh relies on: each account may log in as the role of its own name)."""

    def __init__(self, base: Path):
        self.bindir = server_bindir()
        self.base, self.data, self.socket = base, base / "data", base / "socket"
        account = pwd.getpwnam(SERVER_USER)
        self.base.mkdir(parents=True)
        self.socket.mkdir(mode=0o755)
        for path in (self.base, self.socket):
            os.chown(path, account.pw_uid, account.pw_gid)
        self.base.chmod(0o755)
        self.socket.chmod(0o755)
        checked(self.run("initdb", "-D", self.data, "-U", SERVER_USER, "--auth-local=peer", "--auth-host=reject",
                         "-E", "UTF8", "--no-locale", "--no-sync"))
        options = f"-k {self.socket} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        checked(self.run("pg_ctl", "-D", self.data, "-l", self.base / "server.log", "-o", options, "-w", "-t", "60",
                         "start"))

    def run(self, program: str, *args) -> subprocess.CompletedProcess:
        return run(["runuser", "-u", SERVER_USER, "--", self.bindir / program, *args], cwd=self.base, timeout=120)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "-t", "30", "stop")


class Hub:
    """JupyterHub as the administrator starts it (setup.sh prints the command), on free loopback ports."""

    def __init__(self, environment: dict, bin_folder: Path, config: Path, state: Path, log: Path):
        self.environment, self.bin, self.config, self.state, self.log_path = environment, bin_folder, config, state, log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ports = (free_port(), free_port())
        self.process = None

    def start(self) -> None:
        command = [self.bin / "jupyterhub", "-f", self.config, f"--JupyterHub.bind_url={self.base}",
                   f"--JupyterHub.hub_bind_url=http://127.0.0.1:{self.ports[0]}",
                   f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{self.ports[1]}"]
        self._log = self.log_path.open("a")
        self._log.write(f"\n==== starting: {' '.join(map(str, command))}\n")
        self._log.flush()
        self.process = subprocess.Popen([str(part) for part in command], cwd=self.state, env=self.environment,
                                        stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + HUB_START_TIMEOUT
        while True:
            assert self.process.poll() is None, f"JupyterHub exited with {self.process.returncode}:\n{self.log()}"
            try:  # the hub answers once the proxy and the Formgrader service are up
                with urllib.request.urlopen(f"{self.base}/hub/health", timeout=10):
                    return
            except OSError:
                assert time.monotonic() < deadline, f"JupyterHub did not answer:\n{self.log()}"
                time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM, as systemctl stop does: the hub stops every user's server, the service and the proxy."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@dataclass
class Server:
    """Everything set up for the term; the tests below use it in order."""

    root: Path
    bin: Path
    course: Path
    exchange: Path
    postgres: Postgres
    grader: str
    prof: Account
    alice: Account
    bob: Account
    eve: Account  # an account with a password, not on the roster
    hub: Hub
    environment: dict  # the NNFS_ variables setup.sh was run with
    setup_output: str
    screenshots: Path
    facts: dict = field(default_factory=dict)

    def as_grader(self, *argv, timeout: int = 900) -> subprocess.CompletedProcess:
        """A command in the Formgrader JupyterLab's terminal: the grader account, in the course folder."""
        return as_account(self.grader, *argv, cwd=self.course, bin_folder=self.bin, timeout=timeout)

    def attempt(self, account: Account, *operations) -> list[str]:
        result = checked(as_account(account.name, self.bin / "python", "-c", ATTEMPTS, json.dumps(operations)))
        return json.loads(result.stdout)


def scratch_root() -> Path:
    """A folder in /tmp that every account can enter (pytest's own tmp_path is closed to them)."""
    root = Path(tempfile.mkdtemp(prefix="nnfs-hub-", dir="/tmp"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    missing = missing_requirements()
    if missing:
        pytest.fail("cannot run the course on JupyterHub here; missing: " + "; ".join(missing), pytrace=False)
    root = scratch_root()
    accounts = Accounts()
    postgres = hub = None
    try:
        course = root / "srv" / "nnfs" / "course"
        course.mkdir(parents=True)
        for name in CHECKOUT:  # README.md's step 1, from the working tree
            copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
            if copy is shutil.copytree:
                copy(ROOT / name, course / name, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
            else:
                copy(ROOT / name, course / name)
        bin_folder = build_course_env(root)
        postgres = Postgres(root / "postgres")
        grader = f"{accounts.prefix}grader"
        accounts.made.append(grader)  # setup.sh creates it; the test removes it
        environment = {
            "NNFS_COURSE_DIR": str(course), "NNFS_ENV_BIN": str(bin_folder), "NNFS_GRADER": grader,
            "NNFS_DATABASE": f"{accounts.prefix}_gradebook", "NNFS_EXCHANGE": str(root / "srv/nbgrader/exchange"),
            "NNFS_HUB_STATE": str(root / "srv/jupyterhub"), "NNFS_LESSONS": str(root / "srv/nnfs/lessons"),
            "NNFS_HUB_CONFIG_DIR": str(root / "etc/jupyterhub"),
            # Every account's nbgrader reads the course environment's own etc/jupyter (the machine's /etc/jupyter
            # belongs to whatever else runs here).
            "NNFS_JUPYTER_CONFIG_DIR": str(bin_folder.parent / "etc" / "jupyter"),
            "NNFS_PG_SOCKET": str(postgres.socket), "NNFS_SYSTEMD_DIR": str(root / "etc/systemd/system"),
        }
        # README.md's step 3, as root.
        setup = run(["bash", course / "deploy/jupyterhub/setup.sh"], env={**os.environ, **environment}, timeout=900)
        (root / "setup.log").write_text(setup.stdout + setup.stderr)
        checked(setup)
        # Step 4: accounts, their home folders closed and their nbgrader settings, the roster.
        prof, alice, bob, eve = (accounts.add(role) for role in ("prof", "alice", "bob", "eve"))
        checked(run(["bash", course / "tools/exchange-setup.sh", environment["NNFS_EXCHANGE"], grader, course,
                     alice.name, bob.name]))
        roster = root / "etc/jupyterhub/nnfs-roster.txt"
        with roster.open("a") as handle:
            handle.write(f"admin {prof.name}\ngrader {prof.name}\nstudent {alice.name}\nstudent {bob.name}\n")
        hub_environment = {
            "PATH": f"{bin_folder}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
            **{key: environment[key] for key in ("NNFS_COURSE_DIR", "NNFS_ENV_BIN", "NNFS_GRADER", "NNFS_HUB_STATE")},
            "NNFS_ROSTER": str(roster), "NNFS_FORMGRADER_PORT": str(free_port()),
        }
        hub = Hub(hub_environment, bin_folder, root / "etc/jupyterhub/jupyterhub_config.py",
                  root / "srv/jupyterhub", root / "jupyterhub.log")
        hub.start()
        yield Server(root, bin_folder, course, Path(environment["NNFS_EXCHANGE"]), postgres, grader, prof, alice,
                     bob, eve, hub, environment, setup.stdout, tmp_path_factory.mktemp("screenshots-jupyterhub"))
    finally:
        if hub is not None:
            hub.stop()
        accounts.remove()
        if postgres is not None:
            postgres.stop()
        if os.environ.get("NNFS_HUB_KEEP_ROOT"):
            print(f"scratch root kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


# --- the browser ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        pytest.fail("The Python package playwright is missing: run `make setup`", pytrace=False)
    manager = sync_playwright().start()
    browser = launch_chromium(manager)
    yield browser
    browser.close()
    manager.stop()


class HubSteps(Steps):
    """Steps whose failure also keeps the hub's log and setup.sh's output beside the screenshots (the scratch root,
    where they are written, is removed at the end)."""

    def __init__(self, server: Server):
        super().__init__(None, server.screenshots)
        self.server = server

    def __exit__(self, kind, error, traceback) -> bool:
        if error is not None:
            for name in ("jupyterhub.log", "setup.log"):
                if (self.server.root / name).is_file():
                    shutil.copy(self.server.root / name, self.folder / name)
        return super().__exit__(kind, error, traceback)


class People:
    """One browser context per person (their own cookies), every step saved as a screenshot in one folder."""

    def __init__(self, browser, server: Server):
        self.browser, self.server = browser, server
        self.contexts: dict[str, object] = {}
        self.steps = HubSteps(server)
        expect.set_options(timeout=STEP_TIMEOUT)

    def page(self, account: Account):
        if account.name not in self.contexts:
            context = self.browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(STEP_TIMEOUT)
            self.contexts[account.name] = context.new_page()
        self.steps.page = self.contexts[account.name]
        return self.steps.page

    def shot(self, account: Account, name: str) -> None:
        self.page(account)
        self.steps.shot(f"{account.name.removeprefix(self.server.grader[:8])}_{name}")

    def forget(self) -> None:
        """Close every context, as people closing their browsers (used around the restart)."""
        for page in self.contexts.values():
            page.context.close()
        self.contexts.clear()

    def close(self) -> None:
        self.forget()


@pytest.fixture(scope="module")
def people(browser, server):
    found = People(browser, server)
    yield found
    found.close()


def log_in(people: People, account: Account, password: str | None = None):
    """The hub's login page, then (for someone on the roster) their own JupyterLab, spawned as their account."""
    page = people.page(account)
    page.goto(f"{people.server.hub.base}/hub/login")
    page.locator("#username_input").fill(account.name)
    page.locator("#password_input").fill(password or account.password)
    people.shot(account, "login_page")
    page.locator("#login_submit").click()
    return page


def wait_for_lab(people: People, account: Account):
    page = people.page(account)
    expect(page).to_have_url(re.compile(rf"/user/{account.name}/lab"), timeout=SPAWN_TIMEOUT)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=SPAWN_TIMEOUT)
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible(timeout=SPAWN_TIMEOUT)
    people.shot(account, "own_jupyterlab")
    return page


def assignment_list(people: People, account: Account):
    page = people.page(account)
    menu(page, "Nbgrader", "Assignment List")
    expect(page.locator("#released_assignments_list")).to_be_attached()
    return page


def formgrader(people: People, path: str = "manage_assignments"):
    """The Formgrader service's page, as the instructor (through the hub's login for services)."""
    server = people.server
    page = people.page(server.prof)
    page.goto(f"{server.hub.base}/services/{COURSE_ID}/formgrader/{path}")
    authorize = page.locator("input[type=submit][value='Authorize'], button:has-text('Authorize')")
    if authorize.count():  # the hub asks once whether the service may know who this is
        people.shot(server.prof, "authorize_service")
        authorize.first.click()
    return page


def close_modal(page, name: str) -> str:
    """The text of Formgrader's success dialog (it fails on its error dialog), then close it."""
    modal = page.locator(f"#{name}-modal, #error-modal").first
    expect(modal).to_be_visible(timeout=STEP_TIMEOUT * 3)
    text = modal.inner_text()
    assert modal.get_attribute("id") == f"{name}-modal", text
    modal.locator(".modal-footer button", has_text="OK").click()
    expect(modal).to_be_hidden()
    return text


def assignment_row(page):
    return page.locator("tbody tr", has=page.locator("td a", has_text=re.compile(f"^{ASSIGNMENT}$")))


# --- the term ---------------------------------------------------------------------------------------------------

def test_setup_script_prepares_the_server_as_an_administrator_runs_it(server):
    for step in range(1, 9):
        assert f"==> {step}. " in server.setup_output
    assert "gradebook: postgresql+psycopg2://" in server.setup_output
    assert "sandbox: student code can run in bubblewrap as this account" in server.setup_output
    assert server.course.stat().st_mode & 0o777 == 0o700 and server.course.owner() == server.grader
    assert server.exchange.stat().st_mode & 0o7777 == 0o1777
    assert (server.root / "etc/systemd/system/jupyterhub.service").is_file()
    config = (server.course / "nbgrader_config.py").read_text()
    assert config.count("Course-side nbgrader settings") == 1 and str(server.postgres.socket) in config
    # Run again, as the script says it may be: nothing is appended twice, nothing breaks.
    again = run(["bash", server.course / "deploy/jupyterhub/setup.sh"], env={**os.environ, **server.environment},
                timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (server.course / "nbgrader_config.py").read_text().count("Course-side nbgrader settings") == 1
    assert str(server.prof.name) in (server.root / "etc/jupyterhub/nnfs-roster.txt").read_text()  # roster kept


def test_the_instructor_logs_in_and_releases_ps1_from_the_formgrader_service(server, people):
    with people.steps:
        log_in(people, server.prof)
        page = wait_for_lab(people, server.prof)
        menu(page, "Nbgrader", "Course List")
        course_link = page.locator("a", has_text=COURSE_ID)
        expect(course_link.first).to_be_visible(timeout=STEP_TIMEOUT * 2)
        people.shot(server.prof, "course_list")
        page = formgrader(people)
        row = assignment_row(page)
        expect(row).to_have_count(1)
        people.shot(server.prof, "formgrader_assignments")
        row.locator("td.release a").click()
        assert f"Successfully released '{ASSIGNMENT}'" in close_modal(page, "success")
        expect(assignment_row(page).locator("td.status")).to_have_text("released")
        people.shot(server.prof, "released")
    assert (server.exchange / COURSE_ID / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()


def solve(path: Path) -> None:
    """Write the instructor's solution into each solution cell of a fetched notebook, in place (its owner stays)."""
    answers = solutions(ROOT / "source" / ASSIGNMENT / NOTEBOOK)
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            cell.source = answers[grade_id]
    with path.open("w", encoding="utf-8") as handle:
        nbformat.write(notebook, handle)


def test_two_students_fetch_ps1_one_solves_it_both_submit(server, people):
    with people.steps:
        for student in (server.alice, server.bob):
            log_in(people, student)
            wait_for_lab(people, student)
            page = assignment_list(people, student)
            released = page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)
            expect(released).to_have_count(1, timeout=STEP_TIMEOUT * 2)
            expect(released).to_contain_text(COURSE_ID)
            people.shot(student, "assignments_tab")
            released.locator("button", has_text="Fetch").click()
            fetched = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT)
            expect(fetched.first).to_be_visible()
            people.shot(student, "fetched")
        fetched_notebook = server.alice.home / ASSIGNMENT / NOTEBOOK
        assert fetched_notebook.owner() == server.alice.name
        solve(fetched_notebook)
        page = people.page(server.alice)
        page.goto(f"{server.hub.base}/user/{server.alice.name}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}")
        expect(page.locator(".jp-Notebook .jp-Cell").first).to_be_visible()
        people.shot(server.alice, "solution_written")
        # bob hands in work under alice's name from his terminal: the course's submit refuses; with nbgrader's own,
        # named on the command line, the exchange takes it, and collect must not.
        refused = as_account(server.bob.name, "nbgrader", "submit", ASSIGNMENT, f"--student={server.alice.name}",
                             cwd=server.bob.home, bin_folder=server.bin)
        assert refused.returncode != 0, refused.stdout + refused.stderr
        assert (f"Not submitted: you are logged in as {server.bob.name}, and work can only be handed in under your "
                f"own name, not as {server.alice.name}") in refused.stdout + refused.stderr
        forged = as_account(server.bob.name, "nbgrader", "submit", ASSIGNMENT, f"--student={server.alice.name}",
                            "--ExchangeFactory.submit=nbgrader.exchange.default.submit.ExchangeSubmit",
                            cwd=server.bob.home, bin_folder=server.bin)
        server.facts["forged submit"] = forged
        for student in (server.alice, server.bob):
            page = assignment_list(people, student)
            fetched = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
            fetched.locator("button", has_text="Submit").click()
            submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT)
            expect(submitted.first).to_be_visible(timeout=STEP_TIMEOUT * 2)
            people.shot(student, "submitted")
    inbound = sorted(p.name for p in (server.exchange / COURSE_ID / "inbound").iterdir())
    assert sum(name.startswith(f"{server.alice.name}+{ASSIGNMENT}+") for name in inbound) >= 1
    assert sum(name.startswith(f"{server.bob.name}+{ASSIGNMENT}+") for name in inbound) >= 1


def csv_rows(server: Server) -> dict:
    with (server.course / "grades" / f"{ASSIGNMENT}.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def gradebook_scores(server: Server) -> tuple[str, dict]:
    result = checked(server.as_grader(server.bin / "python", "-c", GRADEBOOK_SCORES, ASSIGNMENT,
                                      server.alice.name, server.bob.name))
    url, scores = result.stdout.strip().splitlines()[-2:]
    return url, json.loads(scores)


def test_the_instructor_collects_grades_marks_the_written_answer_and_releases_feedback(server, people):
    alice, bob = server.alice.name, server.bob.name
    roster = server.root / "roster.csv"
    roster.write_text(f"id\n{alice}\n{bob}\n")
    roster.chmod(0o644)
    checked(server.as_grader("nbgrader", "db", "student", "import", roster))  # README.md, step 7
    with people.steps:
        page = formgrader(people)
        assignment_row(page).locator("td.collect a").click()
        collected = close_modal(page, "success")
        assert f"Successfully collected submissions of '{ASSIGNMENT}'" in collected
        # bob's submission in alice's name (the exchange took it) is left there, and the instructor is told so.
        forged = server.facts["forged submit"]
        assert forged.returncode == 0, forged.stdout + forged.stderr
        assert f"claims to be from {alice} but was made by {bob}" in collected, collected
        expect(assignment_row(page).locator("td.num-submissions")).to_have_text("2")
        people.shot(server.prof, "collected")

        # The grader account grades, as in the Formgrader JupyterLab's terminal: student code in the sandbox.
        graded = server.as_grader("autograder", "grade", ASSIGNMENT)
        assert graded.returncode == 0, graded.stdout + graded.stderr
        for student in (alice, bob):
            notebook = server.course / "autograded" / student / ASSIGNMENT / NOTEBOOK
            assert notebook.owner() == server.grader  # graded by the grader account, never as the student
        rows = csv_rows(server)
        # alice's written answer waits for a person; bob's, left as released, scored zero by itself.
        assert (rows[alice]["needs_manual_grade"], rows[bob]["needs_manual_grade"]) == ("yes", "no")
        assert (rows[alice][WRITTEN], rows[bob][WRITTEN]) == ("", "0")
        auto = {student: float(rows[student]["score"]) for student in (alice, bob)}
        assert auto[bob] == 0 < auto[alice]

        # alice's written answer, marked in Formgrader (full marks); then bob's page shows his zero.
        service = f"{server.hub.base}/services/{COURSE_ID}/formgrader"
        listed = page.request.get(f"{service}/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}")
        assert listed.ok, listed.status
        ids = {item["student"]: item["id"] for item in listed.json()}
        page.goto(f"{service}/submissions/{ids[alice]}/")
        score = page.locator(f"input.score#{WRITTEN}")
        expect(score).to_be_visible()
        page.wait_for_load_state("networkidle")  # the page fills in the grades it loads: wait for them first
        score.locator("xpath=ancestor::*[.//button[contains(., 'Full credit')]][1]").get_by_role(
            "button", name="Full credit").click()
        expect(score).to_have_value("3")
        people.shot(server.prof, "marked_alice")
        deadline = time.monotonic() + STEP_TIMEOUT / 1000
        while True:  # saved when the gradebook has it
            grades = page.request.get(f"{service}/api/grades?submission_id={ids[alice]}").json()
            written = next(grade for grade in grades if grade["name"] == WRITTEN)
            if written["manual_score"] == 3:
                break
            assert time.monotonic() < deadline, f"the mark was not saved: {written}"
            time.sleep(0.5)
        page.goto(f"{service}/submissions/{ids[bob]}/")
        expect(page.locator(f"input.score#{WRITTEN}")).to_have_attribute("placeholder", "0")
        people.shot(server.prof, "bob_written_scored_zero")

        reported = server.as_grader("autograder", "report", ASSIGNMENT)
        assert reported.returncode == 0, reported.stdout + reported.stderr
        rows = csv_rows(server)
        assert float(rows[alice]["score"]) == auto[alice] + 3 == float(rows[alice]["max_score"])
        assert float(rows[bob]["score"]) == 0
        assert rows[alice][WRITTEN] == "3" and rows[alice]["needs_manual_grade"] == rows[bob]["needs_manual_grade"] == "no"
        url, scores = gradebook_scores(server)
        assert url.startswith("postgresql+psycopg2://") and str(server.postgres.socket) in url
        assert scores[alice] == {"score": float(rows[alice]["score"]), "max_score": float(rows[alice]["max_score"]),
                                 "written": 3.0}
        assert scores[bob]["score"] == 0 and scores[bob]["written"] == 0

        page = formgrader(people)
        assignment_row(page).locator("td.release-feedback a").click()
        assert f"Successfully released feedback of '{ASSIGNMENT}'" in close_modal(page, "success")
        people.shot(server.prof, "feedback_released")
    server.facts["scores"] = {student: rows[student]["score"] for student in (alice, bob)}
    server.facts["max_score"] = rows[alice]["max_score"]
    assert len(list((server.exchange / COURSE_ID / "feedback").iterdir())) == 2


def state_of_the_term(server: Server) -> dict:
    """What must survive a restart, read as root: the exchange, the course's files and the gradebook."""
    exchange = server.exchange / COURSE_ID
    return {"inbound": sorted(p.name for p in (exchange / "inbound").iterdir()),
            "feedback": sorted(p.name for p in (exchange / "feedback").iterdir()),
            "submitted": sorted(str(p.relative_to(server.course)) for p in (server.course / "submitted").rglob("*")),
            "csv": (server.course / "grades" / f"{ASSIGNMENT}.csv").read_text(),
            "gradebook": gradebook_scores(server)}


def running_as(*accounts: str) -> list[int]:
    uids = {pwd.getpwnam(name).pw_uid for name in accounts}
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid in uids:
                found.append(int(entry.name))
        except FileNotFoundError:
            pass
    return found


def test_a_restart_of_the_hub_and_every_server_loses_nothing(server, people):
    before = state_of_the_term(server)
    users = (server.grader, server.prof.name, server.alice.name, server.bob.name)
    assert running_as(*users), "no server was running before the restart"
    people.forget()
    server.hub.stop()  # as `systemctl restart jupyterhub` stops it
    deadline = time.monotonic() + 60
    while running_as(*users) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not running_as(*users), "servers still running after the hub stopped"
    server.hub.start()
    assert state_of_the_term(server) == before


def feedback_file(account: Account) -> Path:
    [path] = sorted((account.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    return path


def test_after_the_restart_each_student_fetches_and_opens_only_their_own_feedback(server, people):
    with people.steps:
        for student in (server.alice, server.bob):
            log_in(people, student)
            wait_for_lab(people, student)
            page = assignment_list(people, student)
            submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first
            fetch_feedback = submitted.get_by_role("button", name="Fetch Feedback")
            expect(fetch_feedback).to_be_visible()  # the submission survived, and its feedback is there
            people.shot(student, "feedback_to_fetch")
            fetch_feedback.click()
            expect(page.locator("#submitted_assignments_list a", has_text="view feedback").first).to_be_visible()
            people.shot(student, "feedback_fetched")
            own = feedback_file(student)
            assert own.owner() == student.name
            relative = own.relative_to(student.home)
            response = page.goto(f"{server.hub.base}/user/{student.name}/files/{relative}")
            assert response.status == 200
            score = server.facts["scores"][student.name]
            expect(page.locator("h4").first).to_contain_text(
                re.compile(rf"Score: {float(score):g}(\.0+)? / {float(server.facts['max_score']):g}"))
            people.shot(student, "own_feedback")
        # Only one feedback file each: nobody fetched anyone else's.
        for student in (server.alice, server.bob):
            assert len(list((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))) == 1


def test_a_student_is_refused_formgrader_other_students_files_and_feedback_in_the_browser(server, people):
    alice, bob = server.alice, server.bob
    with people.steps:
        page = people.page(alice)
        response = page.goto(f"{server.hub.base}/services/{COURSE_ID}/formgrader/manage_assignments")
        people.shot(alice, "refused_formgrader_service")
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text(f"403 : You do not have permission to access JupyterHub service "
                                                   f"{COURSE_ID}")
        expect(page.locator("body")).not_to_contain_text("Manage Assignments")
        response = page.goto(f"{server.hub.base}/user/{alice.name}/formgrader")
        people.shot(alice, "no_formgrader_in_own_server")
        assert response.status == 404
        expect(page.locator("body")).to_contain_text("404")
        response = page.goto(f"{server.hub.base}/user/{bob.name}/lab")
        people.shot(alice, "refused_other_students_server")
        assert response.status == 403, response.status
        refused = f"403 : You do not have permission to access Server at /user/{bob.name}/"
        expect(page.locator("h1")).to_contain_text(refused)
        response = page.goto(f"{server.hub.base}/user/{bob.name}/files/{feedback_file(bob).relative_to(bob.home)}")
        people.shot(alice, "refused_other_students_feedback")
        assert response.status == 403
        expect(page.locator("h1")).to_contain_text(refused)
        expect(page.locator("body")).not_to_contain_text("Score:")
        # The course folder is outside her server's files: its API will not go there.
        outside = server.course.relative_to("/")
        # (".." encoded: the browser would resolve a plain one before asking)
        response = page.goto(f"{server.hub.base}/user/{alice.name}/api/contents/{'..%2F' * 6}{outside}/source")
        people.shot(alice, "refused_course_folder")
        assert response.status in (403, 404)
        expect(page.locator("body")).not_to_contain_text(ASSIGNMENT)


def test_on_the_server_a_student_reaches_neither_the_course_nor_the_gradebook_nor_others_work(server):
    alice, bob = server.alice, server.bob
    exchange = server.exchange / COURSE_ID
    bobs = sorted(p for p in (exchange / "inbound").iterdir() if p.name.startswith(f"{bob.name}+"))
    from nbgrader.utils import notebook_hash
    secret = (bobs[-1] / "submission_secret.txt").read_text()
    bobs_feedback = exchange / "feedback" / f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
    assert bobs_feedback.is_file()
    outcomes = server.attempt(
        alice,
        ["list", str(server.course)], ["read", str(server.course / "source" / ASSIGNMENT / NOTEBOOK)],
        ["read", str(server.course / "nbgrader_config.py")], ["list", str(exchange / "inbound")],
        ["read", str(bobs[-1] / NOTEBOOK)], ["list", str(exchange / "feedback")], ["read", str(bobs_feedback)],
        ["list", str(bob.home)], ["read", str(feedback_file(bob))])
    assert outcomes == ["EACCES"] * len(outcomes), outcomes
    # Her own feedback she can read.
    assert server.attempt(alice, ["read", str(feedback_file(alice))])[0].startswith("ok: ")
    # The gradebook: as herself she has no role, and PostgreSQL's peer check will not let her be the grader.
    database = server.environment["NNFS_DATABASE"]
    tried = checked(as_account(alice.name, server.bin / "python", "-c", DATABASE_ATTEMPTS,
                               str(server.postgres.socket), database, server.grader))
    as_herself, as_grader = json.loads(tried.stdout)
    assert as_herself != "connected" and alice.name in as_herself, as_herself
    assert f'Peer authentication failed for user "{server.grader}"' in as_grader


def test_someone_not_on_the_roster_cannot_log_in(server, people):
    with people.steps:
        page = log_in(people, server.eve)
        expect(page.locator("body")).to_contain_text("Invalid username or password")
        people.shot(server.eve, "refused_login")
        assert "/hub/login" in page.url
        # Her password was right (PAM said yes); the roster said no.
        assert f"User {server.eve.name!r} not allowed" in server.hub.log()
        # A wrong password for someone on the roster is refused the same way (in a browser not yet logged in).
        people.forget()
        page = log_in(people, server.bob, password="not-" + server.bob.password)
        expect(page.locator("body")).to_contain_text("Invalid username or password")
        people.shot(server.bob, "refused_wrong_password")
    assert not running_as(server.eve.name)
