"""nbgrader's Formgrader works on what `autograder grade` wrote: it lists the scores, shows each graded notebook
for manual grading, takes a manual score that `autograder report` then exports, and refuses to run nbgrader's
own (unsandboxed) autograde."""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ASSIGNMENT, run_autograder
from test_grading import visible_text
from test_lab import free_port


@pytest.fixture(scope="module")
def formgrader(graded_class, tmp_path_factory):
    """JupyterLab with the nbgrader extensions, started in a copy of the graded ps1 course."""
    course = tmp_path_factory.mktemp("formgrader") / "course"
    shutil.copytree(graded_class(ASSIGNMENT).course, course)
    port, token = free_port(), secrets.token_hex(24)
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--ServerApp.port={port}",
               f"--ServerApp.root_dir={course}", f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    environment = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    server = subprocess.Popen(command, cwd=course, env=environment, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    lab = {"base": f"http://127.0.0.1:{port}", "token": token, "course": course}
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                call(lab, "GET", "/formgrader/api/status")
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "JupyterLab did not start"
                time.sleep(0.5)
        yield lab
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def call(lab, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lab["base"] + path, data=data, method=method,
                                     headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        text = response.read().decode()
        return response.status, text


def csv_rows(course: Path) -> dict:
    with (course / "grades" / f"{ASSIGNMENT}.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_formgrader_lists_the_scores_the_grader_recorded(formgrader):
    status, body = call(formgrader, "GET", f"/formgrader/api/submissions/{ASSIGNMENT}")
    assert status == 200
    listed = {item["student"]: item for item in json.loads(body)}
    rows = csv_rows(formgrader["course"])
    assert set(listed) == set(rows)
    for student, row in rows.items():
        assert listed[student]["score"] == pytest.approx(float(row["score"])), student
        assert listed[student]["autograded"] is True


def test_a_graded_notebook_opens_for_manual_grading_and_its_score_reaches_the_csv(formgrader):
    status, body = call(formgrader, "GET", f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}")
    notebook = next(item for item in json.loads(body) if item["student"] == "solution")
    status, page = call(formgrader, "GET", f"/formgrader/submissions/{notebook['id']}/")
    assert status == 200
    text = visible_text(page)
    assert "def gradient_descent(gradient, x0, learning_rate, num_steps)" in text  # the student's own code
    assert "written_two_valleys" in page and "test_divergence_threshold" in page
    status, body = call(formgrader, "GET", f"/formgrader/api/grades?submission_id={notebook['id']}")
    written = next(grade for grade in json.loads(body) if grade["name"] == "written_two_valleys")
    assert written["needs_manual_grade"] is True and written["auto_score"] is None
    status, _ = call(formgrader, "PUT", f"/formgrader/api/grade/{written['id']}",
                     {"manual_score": 2, "extra_credit": 0})
    assert status == 200
    result = run_autograder("--quiet", "report", ASSIGNMENT, cwd=formgrader["course"])
    assert result.returncode == 0, result.stderr
    row = csv_rows(formgrader["course"])["solution"]
    assert row["written_two_valleys"] == "2" and row["score"] == "19" and row["needs_manual_grade"] == "no"


def test_formgraders_own_autograde_is_refused_with_the_command_to_use(formgrader):
    course = formgrader["course"]
    status, body = call(formgrader, "GET", f"/formgrader/api/submissions/{ASSIGNMENT}")
    before = {item["student"]: item["score"] for item in json.loads(body)}
    autograded = sorted((course / "autograded" / "solution").rglob("*"))
    try:
        status, body = call(formgrader, "POST", f"/formgrader/api/submission/{ASSIGNMENT}/solution/autograde", {})
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    reply = json.loads(body)
    assert reply["success"] is False  # nbgrader's Autograde button: refused before it touches anything
    assert "autograder grade" in reply["error"] + reply.get("log", "")
    status, body = call(formgrader, "GET", f"/formgrader/api/submissions/{ASSIGNMENT}")
    assert {item["student"]: item["score"] for item in json.loads(body)} == before
    assert sorted((course / "autograded" / "solution").rglob("*")) == autograded and autograded
    plain = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"], cwd=course,
                           capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0 and "autograder grade" in plain.stdout + plain.stderr
    assert sorted((course / "autograded" / "solution").rglob("*")) == autograded
