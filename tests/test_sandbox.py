"""The sandbox student code runs in: what it can see, what it can do, and how it is stopped."""

from __future__ import annotations

import os
import time

import pytest

from autograder.sandbox import Limits, SandboxUnavailable, run_python
from conftest import ROOT


def sandboxed(code: str, **limits) -> tuple:
    try:
        return run_python(code, Limits(**limits) if limits else Limits())
    except SandboxUnavailable as error:  # a failing test, never a silent pass or skip
        pytest.fail(f"The grading sandbox cannot start here: {error}")


def test_the_course_environment_works_inside():
    result, files = sandboxed("import numpy, nnfs.data, autograder\n"
                              "print(nnfs.data.load_digits()[0].shape)\n"
                              "open('answer.txt', 'w').write('42')")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1438, 64)"
    assert files == {"answer.txt": b"42"}


def test_course_files_and_the_gradebook_are_invisible():
    code = ("import os\n"
            f"print(os.path.exists({str(ROOT / 'source')!r}), os.path.exists({str(ROOT / 'nbgrader_config.py')!r}),\n"
            f"      os.path.exists({str(ROOT / 'tests')!r}), os.path.exists('/root/.bashrc'))\n"
            f"print(sorted(os.listdir({str(ROOT)!r})))")
    result, _ = sandboxed(code)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first == "False False False False"
    assert set(eval(second)) <= {".venv", "autograder", "nnfs"}


def test_course_packages_are_read_only_and_there_is_no_network():
    code = ("import socket, autograder, os\n"
            "try:\n    open(os.path.join(os.path.dirname(autograder.__file__), 'checks.py'), 'a')\n"
            "except OSError as e:\n    print('read-only')\n"
            "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
            "except OSError as e:\n    print('no network')\n"
            "try:\n    socket.getaddrinfo('pypi.org', 443)\n"
            "except OSError as e:\n    print('no names')\n")
    result, _ = sandboxed(code)
    assert result.stdout.split() == ["read-only", "no", "network", "no", "names"], result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader changes user")
def test_started_as_root_the_program_runs_as_nobody_without_capabilities():
    result, _ = sandboxed("import os\nstatus = open('/proc/self/status').read()\n"
                          "print(os.getuid(), os.getgid(), status.split('CapEff:')[1].split()[0])")
    assert result.stdout.split() == ["65534", "65534", "0000000000000000"]


def test_a_program_that_ignores_sigint_is_killed_after_its_time_and_leaves_nothing_behind():
    code = ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
            "print('started', flush=True)\n"
            "while True:\n    time.sleep(1)\n")
    start = time.monotonic()
    result, _ = sandboxed(code, wall_seconds=3)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - start < 30
    assert "started" in result.stdout
    time.sleep(0.5)
    leftovers = os.popen("pgrep -f 'time.sleep(600)'").read().split()
    assert leftovers == [], "a process started in the sandbox survived it"


def test_memory_processes_and_output_are_limited():
    result, _ = sandboxed("x = bytearray(3 << 30)", memory_bytes=1 << 30)
    assert result.returncode != 0 and "MemoryError" in result.stderr
    result, _ = sandboxed("import os\nfor _ in range(200):\n    os.fork() == 0 and __import__('time').sleep(5)",
                          processes=30, wall_seconds=20)
    assert result.returncode != 0 and ("BlockingIOError" in result.stderr or "Resource temporarily" in result.stderr)
    result, _ = sandboxed("print('x' * (5 << 20))", output_bytes=1000)
    assert len(result.stdout) == 1000 and result.output_dropped > 5_000_000


def test_a_missing_bubblewrap_is_reported_not_bypassed(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        run_python("print(1)")
