"""Run untrusted (student) Python in a bubblewrap sandbox.

Inside the sandbox a program sees the system's libraries, the course's Python environment and the
``autograder`` and ``nnfs`` packages, all read-only, plus one empty writable folder (``/sandbox``). The course
folder, ``source/``, the gradebook and other students' files are not there at all. There is no network, no
shared memory with the host, and a private process tree that dies with the sandbox. Started as root, the
program runs under a uid of its own that no account has. Limits: wall-clock time (enforced from outside with SIGKILL), address space,
processes, file size and captured output.

When the sandbox cannot start (bubblewrap missing, no user namespaces), :class:`SandboxUnavailable` says why:
student code is never run unsandboxed instead.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
# Started as root, each sandbox runs under a uid of its own, above every real account: the process limit counts
# a uid's processes machine-wide, so a fork bomb under a shared uid (nobody) would starve the other sandboxes.
SANDBOX_UID_BASE = 1 << 20


def sandbox_uid() -> int:
    """A uid no account and no other running sandbox has (the grader's pid is unique while it runs)."""
    return SANDBOX_UID_BASE + os.getpid()
SANDBOX_HOME = "/sandbox"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run on this machine; the message says why and what to install or enable."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 120.0
    memory_bytes: int = 4 << 30  # address space; NumPy and BLAS reserve more than they touch
    processes: int = 128
    file_bytes: int = 256 << 20
    output_bytes: int = 1 << 20  # captured stdout/stderr; the rest is counted and dropped


@dataclass
class Result:
    returncode: int | None  # None when the sandbox was killed for running too long
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    output_dropped: int  # bytes of output beyond Limits.output_bytes


def _python_roots() -> list[Path]:
    """Folders the course's Python needs: the environment and the interpreter it was made from."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    return sorted(roots)


def _package_roots() -> list[Path]:
    """The course packages (an editable install points into the course folder; only these folders are shown)."""
    import autograder
    import nnfs
    return [Path(autograder.__file__).resolve().parent, Path(nnfs.__file__).resolve().parent]


def _parents_command(paths: list[Path], provided: list[Path]) -> list[str]:
    """Create every parent of the bind targets as a traversable folder (bubblewrap's default is root-only).

    provided: folders that are already mounted (their insides exist as they are on the host)
    """
    parents = sorted({parent for path in paths for parent in path.parents if str(parent) != "/"},
                     key=lambda p: len(p.parts))
    command = []
    for parent in parents:
        if any(parent == other or other in parent.parents for other in paths):
            continue  # inside a bound folder already
        if any(parent == mount or mount in parent.parents for mount in provided if mount != Path("/tmp")):
            continue  # inside a system folder that is mounted whole
        command += ["--perms", "0755", "--dir", str(parent)]
    return command


def bwrap_command(workdir: Path, argv: list[str], env: dict[str, str] | None = None,
                  uid: int | None = None) -> list[str]:
    """The full command line that runs ``argv`` inside the sandbox with ``workdir`` as /sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed: run tools/system-packages.sh "
                                 "(Debian package `bubblewrap`).")
    system = [p for p in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc") if os.path.exists(p)]
    python = _python_roots() + _package_roots()
    command = [bwrap, "--die-with-parent", "--new-session", "--clearenv",
               "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    for path in system:
        command += ["--ro-bind", path, path]
    # Later mounts cover earlier ones: the empty /tmp comes before the environment, which may live under /tmp.
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
                "--perms", "1777", "--tmpfs", "/tmp"]
    command += _parents_command(python, provided=[Path(p) for p in system] + [Path("/tmp")])
    for path in python:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--bind", str(workdir), SANDBOX_HOME, "--chdir", SANDBOX_HOME]
    variables = {"HOME": SANDBOX_HOME, "USER": "student", "LOGNAME": "student",  # the uid has no passwd entry
                 "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                 "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                 "MPLCONFIGDIR": f"{SANDBOX_HOME}/.matplotlib", **(env or {})}
    for name, value in variables.items():
        command += ["--setenv", name, value]
    if os.geteuid() == 0:
        # bubblewrap needs root to mount what root can read; the program itself then runs as the sandbox's uid.
        command += ["--cap-add", "CAP_SETUID,CAP_SETGID", "--",
                    shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid or NOBODY}", f"--regid={uid or NOBODY}",
                    "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    else:
        command += ["--unshare-user", "--"]
    return command + list(argv)


def _apply_limits(limits: Limits):
    def preexec():
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return preexec


def _drain(stream, limit: int, chunks: list, dropped: list) -> None:
    kept = 0
    while True:
        block = stream.read(65536)
        if not block:
            break
        room = max(0, limit - kept)
        chunks.append(block[:room])
        kept += min(room, len(block))
        dropped[0] += len(block) - min(room, len(block))


class Session:
    """A sandboxed process that runs until it exits, is closed, or is killed; its output is drained and capped.

    pass_fds: descriptors the program inherits (a socket to talk to the grader, say)
    """

    def __init__(self, argv: list[str], workdir: Path, limits: Limits = Limits(), env: dict[str, str] | None = None,
                 pass_fds: tuple = (), stdin: bytes | None = None):
        self.workdir = Path(workdir).resolve()
        self.uid = sandbox_uid() if os.geteuid() == 0 else None
        if self.uid is not None:
            os.chown(self.workdir, self.uid, self.uid)
        self.limits = limits
        self.start = time.monotonic()
        self.process = subprocess.Popen(bwrap_command(self.workdir, argv, env, self.uid), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
                                        preexec_fn=_apply_limits(limits), start_new_session=True)
        self.killed = False
        self._out, self._err, self._dropped = [], [], [0]
        self._readers = [threading.Thread(target=_drain, args=(self.process.stdout, limits.output_bytes,
                                                               self._out, self._dropped), daemon=True),
                         threading.Thread(target=_drain, args=(self.process.stderr, limits.output_bytes,
                                                               self._err, self._dropped), daemon=True)]
        for reader in self._readers:
            reader.start()
        if stdin:
            try:
                self.process.stdin.write(stdin)
            except BrokenPipeError:
                pass
        self.process.stdin.close()

    def kill(self) -> None:
        """SIGKILL everything in the sandbox (its PID namespace dies with its first process)."""
        if self.process.poll() is None:
            self.killed = True
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status, or None if it is still running after ``timeout`` seconds."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self) -> Result:
        """Wait for the readers and return what the process printed (call after it ended or was killed)."""
        self.kill()
        for reader in self._readers:
            reader.join()
        stderr = b"".join(self._err).decode("utf-8", "replace")
        if self.process.returncode == 1 and stderr.startswith("bwrap:"):
            raise SandboxUnavailable(f"the sandbox could not start: {stderr.strip()} (bubblewrap needs user "
                                     "namespaces, or root)")
        return Result(None if self.killed else self.process.returncode,
                      b"".join(self._out).decode("utf-8", "replace"), stderr, self.killed,
                      time.monotonic() - self.start, self._dropped[0])


def run(argv: list[str], workdir: Path, limits: Limits = Limits(), env: dict[str, str] | None = None,
        stdin: bytes | None = None) -> Result:
    """Run ``argv`` in a fresh sandbox whose only writable folder is ``workdir`` (seen as /sandbox)."""
    session = Session(argv, workdir, limits, env, stdin=stdin)
    session.wait(limits.wall_seconds)  # past the time limit, finish() kills the whole sandbox
    return session.finish()


def run_python(code: str, limits: Limits = Limits(), files: dict[str, bytes] | None = None) -> tuple[Result, dict]:
    """Run Python source in a fresh sandbox; return the result and the files it left in /sandbox (name -> bytes).

    files: written into /sandbox before the program starts
    """
    with tempfile.TemporaryDirectory(prefix="sandbox-") as scratch:
        workdir = Path(scratch)
        for name, data in (files or {}).items():
            (workdir / name).write_bytes(data)
        result = run([sys.executable, "-I", "-c", code], workdir, limits)
        left = {}
        for path in workdir.rglob("*"):
            if path.is_file() and not path.is_symlink() and not path.relative_to(workdir).parts[0].startswith("."):
                left[str(path.relative_to(workdir))] = path.read_bytes()[: limits.file_bytes]
        return result, left
