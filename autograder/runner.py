"""Grading one submitted notebook: student code in a sandbox, tests and scores in the grader's process.

The submission is first normalised against the instructor's notebook (:mod:`autograder.cells`). Then:

* a fresh sandbox runs :mod:`autograder.worker`, which executes the student's cells one at a time with
  IPython and keeps their outputs for feedback; test cells are never sent to it;
* at each test cell, this process runs the instructor's test code (visible and hidden) itself. The student's
  names that the test reads are bound to plain copies of their values, or, for functions, to proxies whose
  calls run in the sandbox and bring back plain data (:mod:`autograder.wire`). A test passes when its code
  raises nothing; nothing the student's process prints or returns can be read as a score;
* time limits are armed inside the sandbox for the student's comfort (their cell stops, the next one runs) and
  enforced from here with SIGKILL; a submission whose process dies, hangs or garbles the channel gets 0 for
  every test that did not run, with the reason.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import io
import linecache
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import cells as cellmod
from . import integrity, sandbox, wire
from .feedback import safe_error_summary
from .notebooks import NotebookError, read_notebook

GRACE_SECONDS = 3.0  # beyond a limit, how long the sandbox gets to stop on its own before it is killed
EXTRA_FILE_BYTES = 50 << 20  # a student's own data files copied into the sandbox, at most
BUILTIN_EXCEPTIONS = {name: value for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, Exception)
                      and name not in ("SystemExit", "KeyboardInterrupt", "GeneratorExit")}


@dataclass(frozen=True)
class Limits:
    cell_seconds: float = 60.0  # one cell, or one test cell with every call it makes
    notebook_seconds: float = 600.0  # the whole notebook
    memory_bytes: int = 4 << 30
    processes: int = 64
    output_bytes: int = 1 << 20


@dataclass
class TestResult:
    grade_id: str
    points: float
    score: float | None  # None: waits for a person
    status: str  # "passed", "failed", "not run", "needs manual grading", "no response"
    message: str = ""  # safe for the student: no hidden test code or expected value
    detail: str = ""  # for the instructor: the full error


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    notebook: str
    tests: list[TestResult] = field(default_factory=list)
    findings: list[integrity.Finding] = field(default_factory=list)
    cell_warnings: list[cellmod.CellWarning] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why something did not run
    autograded: dict | None = None  # the notebook with outputs, for formgrader and feedback
    seconds: float = 0.0
    readable: bool = True

    @property
    def score(self) -> float:
        return sum(t.score or 0.0 for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)


class SandboxLost(BaseException):
    """The student's process is gone or out of control; a BaseException so test code cannot swallow it."""

    def __init__(self, reason: str, finding: str | None = None):
        super().__init__(reason)
        self.reason, self.finding = reason, finding


class StudentCodeError(Exception):
    """The student's code raised; ``kind`` is the type it raised, ``student_traceback`` their frames only."""

    def __init__(self, kind: str, message: str, student_traceback: str):
        super().__init__(message)
        self.kind, self.message, self.student_traceback = kind, message, student_traceback


def student_error(error: wire.RemoteError) -> StudentCodeError:
    """An exception that ``except ValueError`` (or whatever the student raised) in a test can catch."""
    base = BUILTIN_EXCEPTIONS.get(error.kind)
    cls = type(error.kind, (StudentCodeError, base), {}) if base and base is not Exception else StudentCodeError
    return cls(error.kind, error.message, error.traceback)


class SubmittedObject(wire.Proxy):
    """A function or object of the student's, seen from the grader: calls and attribute reads run in the sandbox.

    It has no comparison, arithmetic or array protocol of its own, so a check that needs a number gets a clear
    failure instead of whatever the student's object would have answered.
    """

    __slots__ = ("__name__", "_session")

    def __init__(self, channel, ref, session: "Session"):
        super().__init__(channel, ref)
        self.__name__ = ref.name
        self._session = session

    def __call__(self, *args, **kwargs):
        if self._ref.kind != "function":
            raise TypeError(f"the {self._ref.name} object from the submission is not callable")
        reply = self._session.request("call", {"target": self, "args": list(args), "kwargs": kwargs,
                                               "context": call_context()})
        _apply_changes(args, kwargs, reply.get("changed", {}))
        return reply.get("value")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._session.request("getattr", {"target": self, "name": name})

    def __repr__(self) -> str:
        kind = "function" if self._ref.kind == "function" else "object"
        return f"<{kind} {self._ref.name} from the submission, not a number or array>"


@functools.lru_cache(maxsize=256)
def submitted_class(name: str) -> type:
    """A SubmittedObject subclass named after the student's type, so a failing check says "not Anything"."""
    label = name if name.isidentifier() else "object"
    return type(label, (SubmittedObject,), {"__slots__": ()})


def call_context() -> dict:
    """The test's warning filters and NumPy error handling, which the student's call must run under.

    A test that says ``warnings.simplefilter("error")`` around a call expects a warning in the student's code
    to fail it, as it would in one kernel. Only filters on builtin warning categories travel (plain data).
    """
    import warnings

    import numpy as np
    filters = [[action, category.__name__] for action, message, category, module, line in warnings.filters
               if message is None and module is None and not line and isinstance(category, type)
               and getattr(builtins, category.__name__, None) is category]
    return {"warnings": filters[:50], "errstate": dict(np.geterr())}


def _apply_changes(args: tuple, kwargs: dict, changed: dict) -> None:
    """Write what the student's function did to its array, list and dict arguments back into the test's own."""
    if not isinstance(changed, dict):
        return
    for key, new in changed.items():
        if isinstance(key, str) and key.isdigit() and int(key) < len(args):
            old = args[int(key)]
        elif key in kwargs:
            old = kwargs[key]
        else:
            continue
        _update_in_place(old, new)


def _update_in_place(old, new) -> None:
    import numpy as np
    if isinstance(old, np.ndarray) and isinstance(new, np.ndarray) and old.shape == new.shape \
            and old.flags.writeable:
        try:
            old[...] = new
        except (TypeError, ValueError):
            pass
    elif isinstance(old, list) and isinstance(new, list):
        old[:] = new
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in list(old):
            if key not in new:
                del old[key]
        for key, value in new.items():
            if key in old and isinstance(old[key], (np.ndarray, list, dict)) and type(old[key]) is type(value):
                _update_in_place(old[key], value)
                if not isinstance(value, np.ndarray) or old[key].shape == value.shape:
                    continue
            old[key] = value


class Session:
    """The sandboxed worker for one submission and the channel to it."""

    def __init__(self, workdir: Path, limits: Limits):
        self.limits = limits
        ours, theirs = socket.socketpair()
        self.sandbox = sandbox.Session(
            [sys.executable, "-I", "-m", "autograder.worker"], workdir,
            sandbox.Limits(wall_seconds=limits.notebook_seconds, memory_bytes=limits.memory_bytes,
                           processes=limits.processes, output_bytes=limits.output_bytes),
            env={"AUTOGRADER_CHANNEL_FD": str(theirs.fileno()), "NBGRADER_EXECUTION": "autograde",
                 "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
            pass_fds=(theirs.fileno(),))
        theirs.close()
        self.channel = wire.Channel(ours, "grader", lambda channel, ref: submitted_class(ref.name)(channel, ref, self),
                                    self._answer)
        self.deadline: float | None = None  # of the cell being graded
        self.seconds = limits.cell_seconds
        self.lost: SandboxLost | None = None
        self.objects_seen: list[str] = []

    def _answer(self, verb: str, body):
        """Requests from the sandbox: a student's function calling a function the test passed in."""
        if verb == "call" and isinstance(body, dict):
            target = body.get("target")
            if isinstance(target, wire.Proxy) or not callable(target):
                raise TypeError("not a function given by the test")
            args, kwargs = body.get("args", []), body.get("kwargs", {})
            if not isinstance(args, list) or not isinstance(kwargs, dict) \
                    or not all(isinstance(k, str) for k in kwargs):
                raise TypeError("malformed call")
            return target(*args, **kwargs)
        if verb == "getattr" and isinstance(body, dict) and isinstance(body.get("name"), str):
            target, name = body.get("target"), body["name"]
            if name.startswith("_") or callable(target) and not hasattr(type(target), name):
                raise AttributeError(f"{name} is not available")
            return getattr(target, name)
        raise ValueError("unknown request")

    def request(self, verb: str, body: dict):
        """Ask the sandbox; a reply late past the cell's deadline, a dead process or a bad frame loses it."""
        if self.lost is not None:
            raise self.lost
        remaining = (self.deadline - time.monotonic()) if self.deadline else self.seconds
        body = dict(body, seconds=max(0.5, remaining))
        try:
            return self.channel.request(verb, body, deadline=time.monotonic() + max(0.5, remaining) + GRACE_SECONDS)
        except wire.RemoteError as error:
            raise student_error(error) from None
        except TimeoutError:
            self.lose(f"it ran past the time limit of {self.seconds:g} s and was stopped", "ignored the time limit")
        except wire.ChannelClosed:
            code = self.sandbox.wait(2)
            how = f"exit status {code}" if code is not None and code >= 0 else \
                f"signal {-code}" if code is not None else "no exit status"
            self.lose(f"the notebook's process ended ({how})", "ended the process early")
        except (wire.WireError, OSError) as error:
            self.lose(f"the grading channel broke ({error})", "tampered with the grading channel")
        raise AssertionError("unreachable")

    def lose(self, reason: str, finding: str | None) -> None:
        self.sandbox.kill()
        self.lost = SandboxLost(reason, finding)
        raise self.lost

    def close(self) -> sandbox.Result:
        try:
            self.channel.sock.close()
        except OSError:
            pass
        self.sandbox.wait(1)
        return self.sandbox.finish()


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt trusted test code that runs too long (only the process's main thread can do this)."""
    if seconds is None or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"the test took longer than {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _error_output(ename: str, evalue: str, lines: list[str]) -> dict:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)


def _trusted_traceback(error: BaseException, filename: str) -> list[str]:
    """Frames of the test code and the checks only (the grader's own frames say nothing to an instructor)."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if frame.filename == filename or "autograder/checks" in frame.filename]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(error), error)
    return [line.rstrip("\n") for line in lines]


def _sanitise_outputs(outputs) -> list:
    """Outputs from the sandbox are untrusted data: keep only well-formed text, images and errors."""
    kept = []
    if not isinstance(outputs, list):
        return kept
    for output in outputs[:40]:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") in ("stdout", "stderr") and isinstance(output.get("text"), str):
            kept.append(nbformat.v4.new_output("stream", name=output["name"], text=output["text"][:200_000]))
        elif kind in ("display_data", "execute_result") and isinstance(output.get("data"), dict):
            data = {mime: value for mime, value in output["data"].items()
                    if mime in ("text/plain", "image/png", "image/jpeg", "text/latex") and isinstance(value, str)}
            if not data:
                continue
            if kind == "execute_result":
                count = output.get("execution_count")
                kept.append(nbformat.v4.new_output("execute_result", data=data,
                                                   execution_count=count if type(count) is int else None))
            else:
                kept.append(nbformat.v4.new_output("display_data", data=data))
        elif kind == "error":
            lines = output.get("traceback") if isinstance(output.get("traceback"), list) else []
            kept.append(_error_output(str(output.get("ename", "Error"))[:80], str(output.get("evalue", ""))[:2000],
                                      [str(line)[:5000] for line in lines[:80]]))
    return kept


def _copy_files(workdir: Path, student_folder: Path | None, release_folder: Path | None) -> None:
    """The student's own data files, then the assignment's released files (which win), into the sandbox."""
    budget = EXTRA_FILE_BYTES
    for folder in (student_folder, release_folder):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb" \
                    or any(part.startswith(".") for part in relative.parts):
                continue
            size = path.stat().st_size
            if folder == student_folder:
                if size > budget:
                    continue
                budget -= size
            target = workdir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _interface(source: nbformat.NotebookNode) -> set[str]:
    """Names the student provides: bound by answer cells and other editable code cells, not by locked ones."""
    student, locked = set(), set()
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        meta = cellmod.nbgrader_meta(cell)
        if cellmod.is_test(meta):
            continue
        (locked if cellmod.is_locked(meta) and not cellmod.is_answer(meta) else student).update(
            integrity.bound_names(cell.source))
    return student - locked


def grade_notebook(student: str, assignment: str, submitted_path: Path, source_path: Path, released_path: Path,
                   limits: Limits = Limits(), release_folder: Path | None = None) -> SubmissionResult:
    """Grade one notebook of one student; never raises for anything the submission does."""
    start = time.monotonic()
    notebook_name = Path(source_path).stem
    result = SubmissionResult(student, assignment, notebook_name)
    source = nbformat.read(source_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    tests = [c for c in source.cells if cellmod.is_test(cellmod.nbgrader_meta(c)) or
             (cellmod.is_answer(cellmod.nbgrader_meta(c)) and cellmod.nbgrader_meta(c).get("grade"))]
    try:
        submitted = read_notebook(submitted_path)
    except NotebookError as error:
        result.readable = False
        result.problems.append(str(error))
        result.tests = [TestResult(cellmod.nbgrader_meta(c)["grade_id"], float(cellmod.nbgrader_meta(c)["points"]),
                                   0.0, "not run", "The notebook could not be read.", str(error)) for c in tests]
        result.seconds = time.monotonic() - start
        return result

    graded_cells, result.cell_warnings = cellmod.normalise(source, released, submitted)
    stubs = {cellmod.nbgrader_meta(c).get("grade_id"): c.source for c in released.cells}
    interface = _interface(source)
    for index, cell in enumerate(graded_cells):
        meta = cellmod.nbgrader_meta(cell)
        if cell.cell_type == "code" and not cellmod.is_locked(meta):
            label = meta.get("grade_id") or f"cell {cell.metadata.get('submitted_position', index + 1)}"
            result.findings.extend(integrity.scan(label, cell.source))

    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        workdir = Path(scratch) / "work"
        workdir.mkdir()
        _copy_files(workdir, Path(submitted_path).parent, release_folder)
        session = Session(workdir, limits)
        notebook_deadline = time.monotonic() + limits.notebook_seconds
        try:
            session.deadline = time.monotonic() + 30
            session.request("hello", {})
        except SandboxLost as lost:
            outcome = session.close()
            if outcome.stderr.startswith("bwrap:"):
                raise sandbox.SandboxUnavailable(f"the sandbox could not start: {outcome.stderr.strip()}")
            result.problems.append(f"the sandbox did not start: {lost.reason} {outcome.stderr.strip()[-300:]}")
        for index, cell in enumerate(graded_cells):
            meta = cellmod.nbgrader_meta(cell)
            label = meta.get("grade_id") or f"cell {cell.metadata.get('submitted_position', index + 1)}"
            session.deadline = min(time.monotonic() + limits.cell_seconds, notebook_deadline)
            if cell.cell_type != "code":
                if cellmod.is_answer(meta) and meta.get("grade"):
                    result.tests.append(_manual(cell, meta, stubs))
                continue
            if cellmod.is_test(meta):
                running = session.lost is None
                test = _run_test(cell, meta, session, namespace, interface)
                if running and session.lost is not None:  # lost while a test called the student's code
                    result.problems.append(f"{label}: {session.lost.reason}; the cells after it did not run")
                if test.detail.startswith("CellTimeout"):
                    result.findings.append(integrity.Finding("ran past the time limit", label, test.detail,
                                                             "while running"))
                result.tests.append(test)
                continue
            if cellmod.is_locked(meta) and not cellmod.is_answer(meta):
                _run_trusted(cell.source, namespace, label)
            if session.lost is not None:
                continue
            try:
                reply = session.request("run", {"source": cell.source})
            except SandboxLost as lost:
                result.problems.append(f"{label}: {lost.reason}; the cells after it did not run")
                cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                                       text=f"Grading stopped here: {lost.reason}.\n")]
                continue
            cell.outputs = _sanitise_outputs(reply.get("outputs") if isinstance(reply, dict) else None)
            count = reply.get("execution_count") if isinstance(reply, dict) else None
            cell.execution_count = count if type(count) is int else None
            if any(o.output_type == "error" and o.ename == "CellTimeout" for o in cell.outputs):
                result.findings.append(integrity.Finding("ran past the time limit", label,
                                                         f"stopped after {limits.cell_seconds:g} s", "while running"))
            if cellmod.is_answer(meta) and meta.get("grade"):
                result.tests.append(_manual(cell, meta, stubs))
        if session.lost is not None and session.lost.finding:
            result.findings.append(integrity.Finding(session.lost.finding, "notebook", session.lost.reason,
                                                     "while running"))
        outcome = session.close()
        if outcome.output_dropped:
            result.findings.append(integrity.Finding("flooded output", "notebook",
                                                     f"{outcome.output_dropped} bytes beyond the limit were dropped",
                                                     "while running"))
        for note in session.channel.notes:
            kind = note["kind"] if note["kind"] in integrity.KINDS else "tampered with the grading channel"
            result.findings.append(integrity.Finding(kind, "notebook", note["detail"], "while running"))
    for warning in result.cell_warnings:
        kind = "edited a test cell" if warning.kind == "edited test cell" else "cell structure changed"
        result.findings.append(integrity.Finding(kind, warning.cell, f"{warning.kind}: {warning.detail}",
                                                 "in the notebook"))
    result.findings = list(dict.fromkeys(result.findings))
    autograded = nbformat.v4.new_notebook(cells=graded_cells, metadata=submitted.metadata)
    for cell in autograded.cells:
        cell.metadata.pop("submitted_position", None)
    autograded.metadata = nbformat.NotebookNode({k: v for k, v in source.metadata.items()
                                                 if k in ("kernelspec", "language_info")})
    result.autograded = autograded
    result.seconds = time.monotonic() - start
    return result


def _manual(cell, meta: dict, stubs: dict) -> TestResult:
    points = float(meta.get("points", 0) or 0)
    if cell.source.strip() == stubs.get(meta["grade_id"], "").strip():
        return TestResult(meta["grade_id"], points, 0.0, "no response", "No response.")
    return TestResult(meta["grade_id"], points, None, "needs manual grading")


def _run_trusted(source: str, namespace: dict, label: str) -> None:
    """A locked cell of the instructor's (imports, helpers) runs here too, so tests find what it defines."""
    previous = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "autograde"  # as in the sandbox: the environment check has nothing to do
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), time_limit(120):
            exec(compile(integrity.python_source(source), f"<{label}>", "exec"), namespace)
    except Exception:
        pass
    finally:
        if previous is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = previous


def _run_test(cell, meta: dict, session: Session, namespace: dict, interface: set[str]) -> TestResult:
    grade_id, points = meta["grade_id"], float(meta.get("points", 0) or 0)
    if session.lost is not None:
        reason = session.lost.reason
        cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"Not run: {reason}.\n")]
        return TestResult(grade_id, points, 0.0, "not run", f"Not run: {reason}.", reason)
    filename = f"<test {grade_id}>"
    captured = io.StringIO()
    error: BaseException | None = None
    try:
        wanted = sorted(integrity.loaded_names(cell.source) & interface)
        values = session.request("names", {"names": wanted}) if wanted else {}
        for name in wanted:
            if isinstance(values, dict) and name in values:
                namespace[name] = values[name]
            else:
                namespace.pop(name, None)  # never a stale value from an earlier cell
        python = integrity.python_source(cell.source)
        # Tracebacks for the instructor quote the test's lines; feedback removes them (autograder.feedback).
        linecache.cache[filename] = (len(python), None, python.splitlines(True), filename)
        code = compile(python, filename, "exec")
        remaining = max(0.5, session.deadline - time.monotonic())
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured), \
                time_limit(remaining + GRACE_SECONDS):
            exec(code, namespace)
    except SandboxLost as lost:
        error = lost
    except Exception as raised:  # any failure of the test code is a failed test
        error = raised
    cell.outputs = []
    if captured.getvalue():
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=captured.getvalue()[:100_000]))
    if error is None:
        return TestResult(grade_id, points, points, "passed")
    if isinstance(error, SandboxLost):
        cell.outputs.append(_error_output("GradingStopped", error.reason, [f"Grading stopped: {error.reason}."]))
        return TestResult(grade_id, points, 0.0, "not run", f"Not run: {error.reason}.", error.reason)
    if isinstance(error, StudentCodeError):
        ename, evalue = error.kind, error.message
        lines = [f"Your code raised {ename} when a test called it:"] + error.student_traceback.splitlines()[-12:]
    else:
        ename, evalue = type(error).__name__, str(error)
        lines = _trusted_traceback(error, filename)
    cell.outputs.append(_error_output(ename, evalue, lines))
    return TestResult(grade_id, points, 0.0, "failed", safe_error_summary(ename, evalue), f"{ename}: {evalue}")
