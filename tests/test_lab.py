"""`make lab`, the main command: JupyterLab on the course with the nbgrader extensions, URL printed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(),
                                reason="make lab runs in the .venv that `make test` sets up")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    port = free_port()
    process = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    printed, deadline = [], time.monotonic() + 90
    url = None
    while time.monotonic() < deadline and url is None:
        line = process.stdout.readline()
        if not line:
            break
        printed.append(line)
        found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", line)
        url, token = (found.group(0), found.group(1)) if found else (None, None)
    # Keep reading the log so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    try:
        assert url, "JupyterLab printed no URL:\n" + "".join(printed)
        server = {"base": f"http://127.0.0.1:{port}", "token": token, "url": url}
        for _ in range(60):
            try:
                get(server, "/api/status")
                break
            except OSError:
                time.sleep(0.5)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def get(lab, path: str) -> tuple[int, str]:
    request = urllib.request.Request(lab["base"] + path, headers={"Authorization": f"token {lab['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_prints_a_url_that_opens_the_course(lab):
    assert len(lab["token"]) >= 32  # a fresh random token, printed in full for the user to open
    status, body = get(lab, "/api/contents/lessons")
    assert status == 200
    assert "03_gradient_descent.ipynb" in [item["name"] for item in json.loads(body)["content"]]


def test_nbgrader_lab_extension_and_formgrader_are_served(lab):
    status, page = get(lab, "/lab")
    assert status == 200 and "@jupyter/nbgrader" in page
    status, page = get(lab, "/formgrader")
    assert status == 200 and "<title>nbgrader formgrade</title>" in page
    status, body = get(lab, "/formgrader/api/assignments")
    assert status == 200 and "ps1_gradient_descent" in [item["name"] for item in json.loads(body)]


def test_python_kernel_is_available(lab):
    status, body = get(lab, "/api/kernelspecs")
    assert status == 200 and "python3" in json.loads(body)["kernelspecs"]
