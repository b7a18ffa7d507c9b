"""The sandbox student code runs in: what it can see, what it can do, and how it is stopped."""

from __future__ import annotations

import os
import time

import pytest

from autograder.sandbox import SANDBOX_UID_BASE, Limits, SandboxUnavailable, run_python
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
def test_started_as_root_the_program_runs_under_its_own_uid_without_capabilities():
    import pwd
    result, _ = sandboxed("import os\nstatus = open('/proc/self/status').read()\n"
                          "print(os.getuid(), os.getgid(), status.split('CapEff:')[1].split()[0])")
    uid, gid, capabilities = result.stdout.split()
    assert int(uid) == int(gid) >= SANDBOX_UID_BASE and capabilities == "0000000000000000"
    with pytest.raises(KeyError):
        pwd.getpwuid(int(uid))  # no account on the machine has it


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader changes user")
def test_a_fork_bomb_in_one_sandbox_leaves_the_others_their_processes(tmp_path):
    """Process limits count per uid; every sandbox has its own, so one student cannot starve another."""
    import subprocess
    import sys
    bomb = ("import os, time\nfor _ in range(400):\n    try:\n        if os.fork() == 0:\n            time.sleep(20)\n"
            "            os._exit(0)\n    except OSError:\n        break\nprint('full', flush=True)\ntime.sleep(20)")
    runner = ("import sys\nfrom autograder.sandbox import Limits, run_python\n"
              "result, _ = run_python(sys.argv[1], Limits(wall_seconds=25, processes=40))\nprint(result.stdout)")
    bomber = subprocess.Popen([sys.executable, "-c", runner, bomb], stdout=subprocess.PIPE, text=True)
    time.sleep(4)  # the bomb has filled its own process limit by now
    try:
        result, _ = sandboxed("import os, subprocess\nprint(subprocess.run(['true']).returncode, os.getuid())",
                              processes=40, wall_seconds=20)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[0] == "0"
    finally:
        out, _ = bomber.communicate(timeout=60)
    assert "full" in out


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
