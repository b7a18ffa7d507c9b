"""Helpers for the end-to-end browser tests (tests/test_browser.py).

JupyterLab runs on a scratch copy of the course, so that typing, saving and validating in the browser never
touch the committed notebooks; Debian's chromium (tools/system-packages.sh) is driven by Playwright.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# The machine running the tests may have no network and no GPU: nothing must try to reach out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP_TIMEOUT = 60_000  # milliseconds for one step (a click, a cell to run, a dialog); shared machines are slow
SERVER_START_TIMEOUT = 120  # seconds for JupyterLab to answer

# Settings for the scratch JupyterLab: no "fetch Jupyter news?" toast over the page (the network is closed anyway).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM a process started with start_new_session=True and everything in its group; wait until all are gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + 30  # its children (JupyterLab under make) may take a moment longer
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def copy_course_for_lab(destination: Path) -> Path:
    """Copy what JupyterLab shows of the course (config, lessons/, source/, assignments/) to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", destination)
    for folder in ("lessons", "source", "assignments"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return destination


class Lab:
    """JupyterLab started the way `make lab` starts it, with its root (and working directory) on ``root``.

    The working directory matters: nbgrader's Validate and formgrader read nbgrader_config.py from it.
    """

    def __init__(self, root: Path, state: Path):
        self.root = root
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = state / "jupyterlab.log"
        settings = state / "user-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.root_dir={root}",
                   f"--ServerApp.port={self.port}", f"--IdentityProvider.token={self.token}",
                   # Fresh layout and settings: nothing restored from an earlier session or from the user's own.
                   f"--LabApp.workspaces_dir={state / 'workspaces'}", f"--LabApp.user_settings_dir={settings}"]
        if os.getuid() == 0:
            command.append("--allow-root")  # as the Makefile does on containers and CI machines
        env = dict(os.environ)
        # Like the Makefile: the environment's tools (nbgrader calls `alembic`) are found without activating it.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(command, cwd=root, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"JupyterLab exited with code {self.process.returncode}:\n{self.log()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read().decode()
            return json.loads(body) if body else None

    def url(self, path: str) -> str:
        return f"{self.base}{path}{'&' if '?' in path else '?'}token={self.token}"

    def shutdown_kernels(self) -> None:
        try:
            for kernel in self.api("/api/kernels"):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.shutdown_kernels()  # kernels run in sessions of their own; on SIGTERM the server stops them too
        stop_process_group(self.process)
        self._log.close()


class MakeLab:
    """`make lab` itself, on the repository, with the address it prints (the idea of tests/test_lab.py)."""

    def __init__(self, *lab_args: str):
        self.port = free_port()
        command = ["make", "--no-print-directory", "lab", f"LAB_PORT={self.port}"]
        if lab_args:
            command.append("LAB_ARGS=" + " ".join(lab_args))
        self.lines: list[str] = []
        self.url = None
        found = threading.Event()
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)

        def read() -> None:  # all along, so that the server never blocks on a full pipe
            for line in self.process.stdout:
                self.lines.append(line)
                address = re.search(rf"http://127\.0\.0\.1:{self.port}/lab\?token=\w+", line)
                if address and not self.url:
                    self.url = address.group(0)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        found.wait(SERVER_START_TIMEOUT)
        # The address is printed a moment before the server listens on it: wait until it answers.
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while self.url and self.process.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url.replace("/lab?", "/api/status?"), timeout=30):
                    break
            except urllib.error.HTTPError:  # it answers, if only to refuse
                break
            except OSError:
                time.sleep(0.2)

    def output(self) -> str:
        return "".join(self.lines[-60:])

    def stop(self) -> None:
        stop_process_group(self.process)  # make and the JupyterLab it started


def launch_chromium(playwright, executable: str = CHROMIUM):
    """Debian's chromium, headless; a clear failure (never a skip) when it cannot start."""
    try:
        return playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                                          timeout=STEP_TIMEOUT)
    except Exception as error:  # Playwright raises its own Error (missing file, crash at start, timeout)
        reason = (str(error).strip() or type(error).__name__).splitlines()[0]
    pytest.fail(f"Chromium could not start ({executable}: {reason}): "
                "install it with tools/system-packages.sh (or `make system`)", pytrace=False)


class Steps:
    """Saves a screenshot of each step of a test; on failure, points at them and at the JupyterLab log."""

    def __init__(self, page, folder: Path, lab: Lab | MakeLab | None = None):
        self.page, self.folder, self.lab = page, folder, lab
        self.count = 0

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        self.page.screenshot(path=path)
        return path

    def __enter__(self) -> Steps:
        print(f"Screenshots of each step: {self.folder}")
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None:
            return False
        try:
            self.shot("at_failure")
        except Exception:  # the page or the browser may be gone
            pass
        note = f"Screenshots of each step: {self.folder}"
        if isinstance(self.lab, Lab):
            note += f"\nJupyterLab's log: {self.lab.log_path}"
        elif isinstance(self.lab, MakeLab):
            note += f"\nWhat `make lab` printed last:\n{self.lab.output()}"
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:
            print(note)
        return False
