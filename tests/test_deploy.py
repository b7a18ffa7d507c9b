"""The JupyterHub deployment files (deploy/jupyterhub/) load as configuration and agree with each other and
with the course. JupyterHub itself is not installed here: its configuration is loaded with traitlets alone,
the way JupyterHub loads it; the gradebook URL itself is exercised against a real server in test_postgres.py.
tests/test_jupyterhub.py runs setup.sh and the hub for real."""

from __future__ import annotations

import configparser
import os
import py_compile
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from traitlets.config.loader import PyFileConfigLoader

from autograder.gradebook import load_settings
from conftest import ROOT, copy_course

DEPLOY = ROOT / "deploy" / "jupyterhub"
PYTHON_FILES = sorted(DEPLOY.glob("*.py"))
NBGRADER_SEES = """
from nbgrader.apps.nbgraderapp import NbGraderApp
app = NbGraderApp()
app.initialize([])
print(app.config.CourseDirectory.db_url, app.config.Exchange.root)
"""


def load(name: str, path: Path = DEPLOY):
    return PyFileConfigLoader(name, path=str(path)).load_config()


@pytest.fixture
def hub_config(tmp_path, monkeypatch):
    """jupyterhub_config.py loaded with a roster of two students, two graders and an administrator."""
    roster = tmp_path / "roster.txt"
    roster.write_text("# the class\nadmin lecturer\ngrader lecturer\ngrader ta1  # tutor\n\n"
                      "student alice\nstudent bob\nstudent bob\n")
    monkeypatch.setenv("NNFS_ROSTER", str(roster))
    monkeypatch.setenv("NNFS_COURSE_DIR", "/somewhere/course")
    return load("jupyterhub_config.py")


def test_every_file_says_first_what_it_does():
    files = sorted(p for p in DEPLOY.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"jupyterhub_config.py", "global_nbgrader_config.py", "course_settings.py",
                                        "grader_jupyter_server_config.py", "setup.sh", "jupyterhub.service",
                                        "nnfs-roster.example.txt"}
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        if lines[0].startswith("#!"):
            lines = lines[1:]
        assert lines[0].startswith("# ") and len(lines[0]) > 40, f"{path.name} does not start with a comment"


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: p.name)
def test_each_python_file_compiles_and_loads_as_configuration(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NNFS_ROSTER", str(tmp_path / "absent.txt"))
    py_compile.compile(str(path), cfile=str(tmp_path / "compiled.pyc"), doraise=True)
    config = load(path.name)
    assert len(config) > 0, f"{path.name} sets nothing"


def test_the_hub_lets_the_roster_in_and_gives_the_graders_the_formgrader(hub_config):
    course_id = load_settings(ROOT).course_id
    assert hub_config.JupyterHub.authenticator_class == "pam"
    assert hub_config.Authenticator.allowed_users == {"lecturer", "ta1", "alice", "bob"}
    assert hub_config.Authenticator.admin_users == {"lecturer"}
    assert hub_config.JupyterHub.load_groups == {f"formgrade-{course_id}": {"users": ["lecturer", "ta1"]}}
    [service] = hub_config.JupyterHub.services
    assert service["name"] == course_id  # nbgrader's course list finds Formgrader by the course id
    assert service["cwd"] == "/somewhere/course" and service["user"] == "nnfs-grader"
    assert service["command"][0].endswith("/jupyterhub-singleuser")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", service["url"])
    roles = {role["name"]: role for role in hub_config.JupyterHub.load_roles}
    assert f"access:services!service={course_id}" in roles[f"formgrade-{course_id}"]["scopes"]
    assert roles[f"formgrade-{course_id}"]["groups"] == [f"formgrade-{course_id}"]
    assert roles["server"]["scopes"] == ["inherit"]
    assert hub_config.Spawner.cmd[0].endswith("/jupyterhub-singleuser")


def test_without_a_roster_nobody_may_log_in(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFS_ROSTER", str(tmp_path / "absent.txt"))
    config = load("jupyterhub_config.py")
    assert config.Authenticator.allowed_users == set() and config.Authenticator.admin_users == set()


def test_a_roster_line_with_an_unknown_role_is_refused(tmp_path, monkeypatch):
    roster = tmp_path / "roster.txt"
    roster.write_text("student alice\nteacher bob\n")
    monkeypatch.setenv("NNFS_ROSTER", str(roster))
    with pytest.raises(Exception, match="line 2"):
        load("jupyterhub_config.py")


def test_the_shipped_roster_example_loads(monkeypatch):
    monkeypatch.setenv("NNFS_ROSTER", str(DEPLOY / "nnfs-roster.example.txt"))
    config = load("jupyterhub_config.py")
    assert "alice" in config.Authenticator.allowed_users and config.Authenticator.admin_users


def test_students_graders_and_the_course_agree_on_course_and_exchange():
    student_side = load("global_nbgrader_config.py")
    course_side = load("course_settings.py")
    assert student_side.CourseDirectory.course_id == load_settings(ROOT).course_id
    assert student_side.Exchange.root == course_side.Exchange.root
    assert Path(student_side.Exchange.root).is_absolute()
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    assert default(setup, "EXCHANGE") == student_side.Exchange.root
    # The exchange is laid out, and students submit, as on the machine tests/test_exchange.py sets up.
    assert 'bash "$HERE/../../tools/exchange-setup.sh" "$EXCHANGE" "$GRADER" "$COURSE_DIR"' in setup
    one_machine = load("student_nbgrader_config.py", ROOT / "tools")
    assert student_side.ExchangeFactory.submit == one_machine.ExchangeFactory.submit == \
        "autograder.exchange.PrivateSubmit"
    assert load("nbgrader_config.py", ROOT).ExchangeFactory.collect == "autograder.exchange.CheckedCollect"


def test_the_course_side_settings_point_the_gradebook_at_postgresql_as_the_grader_account():
    url = make_url(load("course_settings.py").CourseDirectory.db_url)
    assert url.drivername == "postgresql+psycopg2"  # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3
    assert url.password is None and url.host is None  # the socket and peer login: no secret in the file
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    assert default(setup, "GRADER") == url.username and default(setup, "DATABASE") == url.database
    assert default(setup, "PG_SOCKET") == url.query["host"]
    [service] = load("jupyterhub_config.py").JupyterHub.services
    assert service["user"] == url.username


def default(setup: str, name: str) -> str:
    """The production default setup.sh gives a setting (NAME=${NNFS_NAME:-default})."""
    found = re.search(rf"^{name}=\$\{{NNFS_{name}:-([^}}]+)\}}", setup, re.MULTILINE)
    assert found, f"setup.sh sets no {name} with a default"
    return found.group(1)


def test_setup_adjusts_each_production_path_it_finds_in_the_shipped_files(tmp_path):
    """setup.sh's adjusted() rewrites the exchange and the gradebook's URL where they are changed (a scratch install):
    each pattern it looks for must be in the files it installs, or a changed path would silently stay the default."""
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    body = setup[setup.index("adjusted() {"):]
    body = body[:body.index("\n}\n") + 3]
    script = (f"{body}\nEXCHANGE=/x/exchange GRADER=g DATABASE=d PG_SOCKET=/x/socket\n"
              'adjusted "$1"')
    course_side = subprocess.run(["bash", "-c", script, "adjusted", str(DEPLOY / "course_settings.py")],
                                 capture_output=True, text=True, check=True).stdout
    student_side = subprocess.run(["bash", "-c", script, "adjusted", str(DEPLOY / "global_nbgrader_config.py")],
                                  capture_output=True, text=True, check=True).stdout
    (tmp_path / "course_settings.py").write_text(course_side)
    (tmp_path / "global_nbgrader_config.py").write_text(student_side)
    adjusted = load("course_settings.py", tmp_path)
    assert adjusted.Exchange.root == "/x/exchange" == load("global_nbgrader_config.py", tmp_path).Exchange.root
    assert adjusted.CourseDirectory.db_url == "postgresql+psycopg2://g@/d?host=/x/socket"


def test_the_grader_alone_gets_formgraders_server_extension():
    """setup.sh turns it off in the environment; the grader's own settings turn it on (by name, over the rest)."""
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    assert "server extension disable --sys-prefix nbgrader.server_extensions.formgrader" in setup
    assert load("grader_jupyter_server_config.py").ServerApp.jpserver_extensions == {
        "nbgrader.server_extensions.formgrader": True}
    # Disabled lab plugins are locked by JupyterLab; unlocked, the grader's user-level setting can turn them on.
    assert 'labextension unlock --level=sys_prefix "$plugin"' in setup


def test_appended_to_the_course_configuration_they_win_and_the_rest_stays(tmp_path, monkeypatch):
    """What setup.sh does to the course's nbgrader_config.py, read as nbgrader and the autograder read it."""
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "elsewhere"))
    course = copy_course(tmp_path / "course")
    original = load_settings(course)
    with (course / "nbgrader_config.py").open("a", encoding="utf-8") as config:
        config.write("\n" + (DEPLOY / "course_settings.py").read_text(encoding="utf-8"))
    deployed = load_settings(course)
    course_side = load("course_settings.py")
    assert deployed.db_url == course_side.CourseDirectory.db_url != original.db_url
    assert (deployed.course_id, deployed.root, deployed.release_directory, deployed.cell_seconds) == \
        (original.course_id, original.root, original.release_directory, original.cell_seconds)
    loaded = load("nbgrader_config.py", course)
    assert loaded.Exchange.root == course_side.Exchange.root
    assert loaded.GenerateFeedback.preprocessors  # the course's own settings are still there
    # nbgrader's own configuration loading (the Jupyter config folders, then the course folder) agrees.
    shown = subprocess.run([sys.executable, "-c", NBGRADER_SEES], cwd=course, capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter")))
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.split() == [course_side.CourseDirectory.db_url, course_side.Exchange.root]


def test_setup_script_is_valid_bash_and_installs_every_shipped_file():
    assert subprocess.run(["bash", "-n", str(DEPLOY / "setup.sh")], capture_output=True).returncode == 0
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    for path in DEPLOY.iterdir():
        if path.name != "setup.sh":
            assert f"$HERE/{path.name}" in setup, f"setup.sh does not install {path.name}"
    assert "course_settings.py" in setup and "grep -qF \"$MARKER\"" in setup  # appended once only
    assert (DEPLOY / "course_settings.py").read_text(encoding="utf-8").count(
        re.search(r'MARKER="([^"]+)"', setup).group(1)) == 1


def test_the_systemd_unit_starts_the_hub_with_the_installed_configuration():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read_string((DEPLOY / "jupyterhub.service").read_text(encoding="utf-8"))
    start = unit["Service"]["ExecStart"].split()
    assert start[0].endswith("/jupyterhub") and start[1:] == ["-f", "/etc/jupyterhub/jupyterhub_config.py"]
    assert "/etc/jupyterhub/jupyterhub_config.py" in (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    assert os.path.dirname(start[0]) == "/opt/nnfs/venv/bin"
    setup = (DEPLOY / "setup.sh").read_text(encoding="utf-8")
    assert default(setup, "ENV_BIN") == os.path.dirname(start[0])
    assert default(setup, "HUB_STATE") == unit["Service"]["WorkingDirectory"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
