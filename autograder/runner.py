"""Grading one submitted notebook: student code in a sandbox, tests and scores in the grader's process.

Called by :mod:`autograder.parallel` (one forked process per notebook) and the release check. The submission is
first normalised against the instructor's notebook (:mod:`autograder.cells`); test and locked cells run as
nbgrader's autograder restores them, from what ``generate_assignment`` recorded in the gradebook (AUTOTEST lines
expanded, hidden tests kept). Then:

* a fresh sandbox runs :mod:`autograder.sandbox.worker`, which executes the student's cells one at a time with
  IPython and keeps their outputs for feedback; test cells are never sent to it;
* at each test cell, this process runs the instructor's test code (visible and hidden) itself, in the folder
  holding the assignment's files and what the student's code wrote, with ``NBGRADER_EXECUTION=autograde``. The
  student's names arrive as plain copies of their values, their installed modules as the grader's own import, and
  everything else as stand-ins whose every use runs in the sandbox (:mod:`autograder.remote`), with the names,
  random generators and printed text one kernel would share. A test passes when its code raises nothing;
  nothing the student's process prints or returns can be read as a score;
* what a test asks that the grader does not do is a "grader limit": the part scores 0, is flagged for a person,
  and the message says why, to the instructor;
* time limits are armed inside the sandbox for the student's comfort (their cell stops, the next one runs) and
  enforced from here with SIGKILL; a submission whose process dies, hangs or garbles the channel gets 0 for
  every test that did not run, with the reason.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import io
import linecache
import os
import re
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
from . import integrity, remote, sandbox
from .sandbox import wire
from .feedback import BEGIN_HIDDEN, END_HIDDEN, STUDENT_RAISED, VISIBLE_FAILURE, remove_hidden_region, safe_error_summary
from .notebooks import NotebookError, read_notebook

GRACE_SECONDS = 3.0  # beyond a limit, how long the sandbox gets to stop on its own before it is killed
EXTRA_FILE_BYTES = 50 << 20  # a student's own data files copied into the sandbox, at most


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
    status: str  # "passed", "failed", "not run", "needs manual grading", "no response", "grader limit"
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


class Session:
    """The sandboxed worker for one submission, the channel to it, and the stand-ins for its objects."""

    def __init__(self, workdir: Path, limits: Limits):
        self.limits = limits
        ours, theirs = socket.socketpair()
        self.sandbox = sandbox.Session(
            [sys.executable, "-I", "-m", "autograder.sandbox.worker"], workdir,
            sandbox.Limits(wall_seconds=limits.notebook_seconds, memory_bytes=limits.memory_bytes,
                           processes=limits.processes, output_bytes=limits.output_bytes),
            env={"AUTOGRADER_CHANNEL_FD": str(theirs.fileno()), "NBGRADER_EXECUTION": "autograde",
                 "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
            pass_fds=(theirs.fileno(),))
        theirs.close()
        self.remote: remote.Remote | None = None
        self.channel = wire.Channel(ours, "grader", lambda channel, ref: self.remote.make(channel, ref), self._answer)
        self.remote = remote.Remote(self.channel, self.request)
        self.deadline: float | None = None  # of the cell being graded
        self.seconds = limits.cell_seconds
        self.lost: SandboxLost | None = None

    def _answer(self, verb: str, body):
        """Requests from the sandbox: a student's function calling a function the test passed in."""
        if verb == "call" and isinstance(body, dict):
            target = body.get("target")
            if isinstance(target, (wire.Proxy, remote.RemoteObject, remote.RemoteClass)) or not callable(target) \
                    or self.channel.stand_ins.get(id(target), (None,))[0] is target:
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
            raise remote.raised_error(error) from None
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

    def run_cell(self, source: str) -> dict:
        """Run a student cell, carrying the test's last changes to shared names and the random generators."""
        reply = self.request("run", {"source": source, "names": self.remote.outgoing_names(),
                                     "rng": self.remote.random.outgoing()})
        if isinstance(reply, dict) and reply.get("rng") is not None:
            self.remote.random.incoming(reply["rng"])
        return reply if isinstance(reply, dict) else {}

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
    """Frames of the test code only: the grader's and the checks' own frames say nothing to a student."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
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


AUTOTEST_LINE = re.compile(r"^\s*###\s*(HASHED\s+)?AUTOTEST\b", re.MULTILINE)


def test_sources(source: nbformat.NotebookNode, released: nbformat.NotebookNode,
                 recorded: dict[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """The code each test and locked cell runs when graded, as nbgrader's autograder restores it.

    recorded: grade id -> source, as ``generate_assignment`` recorded the cells in the gradebook (AUTOTEST lines
        expanded, hidden tests kept); without it, cells come from source/, and an AUTOTEST cell from the released
        version when it has no hidden tests (the expansion is then complete there)
    Returns the sources, and grade id -> why a cell cannot be graded (its AUTOTEST lines are not expanded anywhere).
    """
    recorded = recorded or {}
    released_cells = {cellmod.nbgrader_meta(c).get("grade_id"): c for c in released.cells}
    sources, unusable = {}, {}
    for cell in source.cells:
        meta = cellmod.nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if not grade_id or not cellmod.is_locked(meta) or cellmod.is_answer(meta):
            continue
        if isinstance(recorded.get(grade_id), str):
            sources[grade_id] = recorded[grade_id]
        elif AUTOTEST_LINE.search(cell.source):
            stub = released_cells.get(grade_id)
            if stub is not None and not AUTOTEST_LINE.search(stub.source) and not remove_hidden_region(cell.source)[1]:
                sources[grade_id] = stub.source
            else:
                sources[grade_id] = cell.source
                unusable[grade_id] = ("its AUTOTEST lines are expanded only by nbgrader's generate_assignment, and "
                                      "this assignment's expansion is not recorded in the gradebook. Instructor: run "
                                      "`autograder grade` (it records the assignment) rather than grading from "
                                      "source/ alone.")
        else:
            sources[grade_id] = cell.source
    return sources, unusable


def _cell_names(source: str) -> tuple[set[str], set[str]]:
    """Every name a cell uses (read, bound or deleted, anywhere), and the names bound by its hidden tests."""
    try:
        tree = ast.parse(integrity.python_source(source))
    except (SyntaxError, ValueError):
        return set(), set()
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    hidden = set()
    for start, end in hidden_lines(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and start <= node.lineno <= end:
                hidden.add(node.id)
    return used, hidden


def hidden_lines(source: str) -> list[tuple[int, int]]:
    """Line ranges (from 1, inclusive) of a cell's hidden-test regions."""
    ranges, start = [], None
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line and start is None:
            start = number
        elif END_HIDDEN in line and start is not None:
            ranges.append((start, number))
            start = None
    if start is not None:
        ranges.append((start, source.count("\n") + 1))
    return ranges


_GUARDED_FOLDER: list[str] = []  # the submission's folder while a test runs (see _guard_files)


def _guard_files(event: str, args) -> None:
    """While a test runs in the submission's folder, a file there that leads elsewhere (a link the student made)
    is not opened: the test may read what the student wrote, never the grader's files through it."""
    if event != "open" or not _GUARDED_FOLDER:
        return
    path = args[0]
    if isinstance(path, int):
        return
    path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else path
    if not isinstance(path, str):
        return
    folder = _GUARDED_FOLDER[-1]
    lexical = os.path.normpath(os.path.join(os.getcwd(), path))
    if (lexical + os.sep).startswith(folder + os.sep) and \
            not (os.path.realpath(lexical) + os.sep).startswith(folder + os.sep):
        raise PermissionError(f"{path}: a link out of the submission's folder is not followed when grading")


@contextlib.contextmanager
def in_submission_folder(workdir: Path):
    """Run test code as in the student's kernel: in the folder holding the assignment's files and whatever the
    student's code wrote, with NBGRADER_EXECUTION=autograde."""
    if not _GUARD_INSTALLED:
        sys.addaudithook(_guard_files)
        _GUARD_INSTALLED.append(True)
    previous_folder, previous = os.getcwd(), os.environ.get("NBGRADER_EXECUTION")
    os.chdir(workdir)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    _GUARDED_FOLDER.append(os.path.realpath(workdir))
    try:
        yield
    finally:
        _GUARDED_FOLDER.pop()
        os.chdir(previous_folder)
        if previous is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = previous


_GUARD_INSTALLED: list = []


def ungraded_parts(source: nbformat.NotebookNode, message: str, reason: str,
                   task_message: str | None = None) -> list[TestResult]:
    """Every graded part of the instructor's notebook, left ungraded for `reason`: tests and written answers at
    zero ("not run"), task cells waiting for a person whatever happened to the code."""
    results = []
    for cell in source.cells:
        meta = cellmod.nbgrader_meta(cell)
        if not (cellmod.is_test(meta) or cellmod.is_graded_part(meta)):
            continue
        points = float(meta.get("points", 0) or 0)
        if meta.get("task"):
            results.append(TestResult(meta["grade_id"], points, None, "needs manual grading",
                                      task_message or message, reason))
        else:
            results.append(TestResult(meta["grade_id"], points, 0.0, "not run", message, reason))
    return results


def grade_notebook(student: str, assignment: str, submitted_path: Path, source_path: Path, released_path: Path,
                   limits: Limits = Limits(), release_folder: Path | None = None,
                   recorded: dict[str, str] | None = None) -> SubmissionResult:
    """Grade one notebook of one student; never raises for anything the submission does.

    recorded: grade id -> source of the test and locked cells as recorded in the gradebook (see test_sources)
    """
    start = time.monotonic()
    notebook_name = Path(source_path).stem
    result = SubmissionResult(student, assignment, notebook_name)
    source = nbformat.read(source_path, as_version=4)
    released = nbformat.read(released_path, as_version=4)
    sources, unusable = test_sources(source, released, recorded)
    for cell in source.cells:
        grade_id = cellmod.nbgrader_meta(cell).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    try:
        submitted = read_notebook(submitted_path)
    except NotebookError as error:
        result.readable = False
        result.problems.append(str(error))
        result.tests = ungraded_parts(source, "The notebook could not be read.", str(error))
        result.seconds = time.monotonic() - start
        return result

    graded_cells, result.cell_warnings = cellmod.normalise(source, released, submitted)
    stubs = {cellmod.nbgrader_meta(c).get("grade_id"): c.source for c in released.cells}
    student_names: set[str] = set()
    for index, cell in enumerate(graded_cells):
        meta = cellmod.nbgrader_meta(cell)
        if cell.cell_type == "code" and not cellmod.is_locked(meta):
            label = meta.get("grade_id") or f"cell {cell.metadata.get('submitted_position', index + 1)}"
            result.findings.extend(integrity.scan(label, cell.source))
            student_names |= integrity.bound_names(cell.source)

    imports = remote.imported_names([c.source for c in graded_cells if c.cell_type == "code"
                                     and not cellmod.is_locked(cellmod.nbgrader_meta(c))])
    namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
    test_bound: set[str] = set()  # names an earlier test cell bound, and no cell since: the test's value stands
    saved_path = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # the submission's folder never holds modules here
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
                if cellmod.is_graded_part(meta):
                    result.tests.append(_manual(cell, meta, stubs))
                continue
            if cellmod.is_test(meta):
                running = session.lost is None
                if meta["grade_id"] in unusable:
                    test = _grader_limit(cell, meta, unusable[meta["grade_id"]])
                else:
                    test = _run_test(cell, meta, session, namespace, student_names, workdir, imports, test_bound)
                if running and session.lost is not None:  # lost while a test called the student's code
                    result.problems.append(f"{label}: {session.lost.reason}; the cells after it did not run")
                if test.detail.startswith("CellTimeout"):
                    result.findings.append(integrity.Finding("ran past the time limit", label, test.detail,
                                                             "while running"))
                if test.status == "grader limit":
                    result.problems.append(f"{label}: needs manual review: {test.message}")
                result.tests.append(test)
                continue
            test_bound -= integrity.bound_names(cell.source)  # this cell binds them anew, in the student's process
            if cellmod.is_locked(meta) and not cellmod.is_answer(meta):
                _run_trusted(cell.source, namespace, label, workdir)
            if session.lost is not None:
                continue
            try:
                reply = session.run_cell(cell.source)
            except SandboxLost as lost:
                result.problems.append(f"{label}: {lost.reason}; the cells after it did not run")
                cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                                       text=f"Grading stopped here: {lost.reason}.\n")]
                continue
            cell.outputs = _sanitise_outputs(reply.get("outputs"))
            count = reply.get("execution_count")
            cell.execution_count = count if type(count) is int else None
            if any(o.output_type == "error" and o.ename == "CellTimeout" for o in cell.outputs):
                result.findings.append(integrity.Finding("ran past the time limit", label,
                                                         f"stopped after {limits.cell_seconds:g} s", "while running"))
            if cellmod.is_graded_part(meta):
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
    sys.path[:] = saved_path
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
    """A part a person grades: a written answer (unless left as released) or a task."""
    points = float(meta.get("points", 0) or 0)
    if not meta.get("task") and cell.source.strip() == stubs.get(meta["grade_id"], "").strip():
        return TestResult(meta["grade_id"], points, 0.0, "no response", "No response.")
    return TestResult(meta["grade_id"], points, None, "needs manual grading")


GRADER_LIMIT_NOTE = ("this test could not be run automatically (a limit of the grader, not a fault found in your "
                     "code); a person grades this part.")


def _grader_limit(cell, meta: dict, reason: str) -> TestResult:
    points = float(meta.get("points", 0) or 0)
    message = f"The grader could not run this test: {reason}"
    cell.outputs = [_error_output("GraderLimit", GRADER_LIMIT_NOTE, [GRADER_LIMIT_NOTE])]
    return TestResult(meta["grade_id"], points, 0.0, "grader limit", message, message)


def _run_trusted(source: str, namespace: dict, label: str, workdir: Path) -> None:
    """A locked cell of the instructor's (imports, helpers) runs here too, so tests find what it defines."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                in_submission_folder(workdir), time_limit(120):
            exec(compile(integrity.python_source(source), f"<{label}>", "exec"), namespace)
    except Exception:
        pass


class _VisibleAsserts(ast.NodeTransformer):
    """Visible ``assert a <op> b`` statements say what both sides were when they fail (hidden ones stay bare)."""

    def __init__(self, hidden: list[tuple[int, int]]):
        self.hidden = hidden

    def visit_Assert(self, node):
        if any(start <= node.lineno <= end for start, end in self.hidden) or not isinstance(node.test, ast.Compare) \
                or len(node.test.ops) != 1:
            return node
        left, right = ast.Name("__autograder_left", ast.Store()), ast.Name("__autograder_right", ast.Store())
        load = [ast.Name("__autograder_left", ast.Load()), ast.Name("__autograder_right", ast.Load())]
        check = ast.If(
            test=ast.UnaryOp(ast.Not(), ast.Compare(load[0], node.test.ops, [load[1]])),
            body=[ast.Raise(ast.Call(ast.Name("__autograder_failure", ast.Load()),
                                     [node.msg or ast.Constant(None), load[0], load[1],
                                      ast.Constant(type(node.test.ops[0]).__name__)], []), None)],
            orelse=[])
        statements = [ast.Assign([left], node.test.left), ast.Assign([right], node.test.comparators[0]), check]
        for statement in statements:
            ast.copy_location(statement, node)
        return statements


OPERATOR_TEXT = {"Eq": "==", "NotEq": "!=", "Lt": "<", "LtE": "<=", "Gt": ">", "GtE": ">=", "Is": "is",
                 "IsNot": "is not", "In": "in", "NotIn": "not in"}


def _short(value) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 300 else text[:300] + "..."


def _assertion_failure(message, left, right, operator: str) -> AssertionError:
    detail = f"expected {_short(right)}, got {_short(left)}" if operator == "Eq" else \
        f"{_short(left)} {OPERATOR_TEXT.get(operator, operator)} {_short(right)} is false"
    text = f"{message} ({detail})" if message is not None else detail
    error = AssertionError(text)
    error.visible = True
    return error


def _compile_test(python: str, filename: str, hidden: list[tuple[int, int]]):
    """The test's code; a last bare expression keeps its value in ``__autograder_result``, as IPython shows it
    (nbgrader reads a number there as partial credit); a trailing ``;`` hides it, as in IPython."""
    try:
        tree = _VisibleAsserts(hidden).visit(ast.parse(python, filename))
        if tree.body and isinstance(tree.body[-1], ast.Expr) and not python.rstrip().endswith(";"):
            last = tree.body[-1]
            tree.body[-1] = ast.copy_location(ast.Assign([ast.Name("__autograder_result", ast.Store())],
                                                         last.value), last)
        return compile(ast.fix_missing_locations(tree), filename, "exec")
    except (SyntaxError, ValueError, TypeError):
        return compile(python, filename, "exec")


def _partial_credit(value, points: float, channel: wire.Channel) -> tuple[float | None, str]:
    """The score nbgrader reads from a test cell's displayed value, and that text (None: full marks)."""
    if value is None:
        return None, ""
    if remote.is_trusted(value, channel) is False and (
            isinstance(value, (remote.RemoteObject, remote.RemoteClass))
            or channel.stand_ins.get(id(value), (None,))[0] is value):
        return None, "<an object of the student's>"  # its text is the student's to choose: never a score
    from IPython.lib.pretty import pretty
    try:
        text = pretty(value)
    except Exception:
        return None, ""
    try:
        grade = float(text)
    except ValueError:
        return None, text
    if grade < 0:
        return None, text
    if grade > points:
        raise remote.GraderLimit(f"the cell's last line shows {text}, more than its {points:g} points (nbgrader "
                                 "reads that number as partial credit and refuses it). Instructor: end the cell "
                                 "with a value between 0 and the points, or with a `;`.")
    return grade, text


def _failed_line(error: BaseException, filename: str) -> int | None:
    """The line of the test cell that the error came through last."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    return lines[-1] if lines else None


def _run_test(cell, meta: dict, session: Session, namespace: dict, student_names: set[str],
              workdir: Path, imports: dict, test_bound: set[str]) -> TestResult:
    """Run one test cell here.

    imports: names the student's cells bind by importing (remote.imported_names)
    test_bound: names earlier test cells bound since any other cell bound them (kept as the test left them;
        updated with this cell's)
    """
    grade_id, points = meta["grade_id"], float(meta.get("points", 0) or 0)
    if session.lost is not None:
        reason = session.lost.reason
        cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text=f"Not run: {reason}.\n")]
        return TestResult(grade_id, points, 0.0, "not run", f"Not run: {reason}.", reason)
    filename = f"<test {grade_id}>"
    captured, errors = io.StringIO(), io.StringIO()
    error: BaseException | None = None
    python = integrity.python_source(cell.source)
    hidden = hidden_lines(python)
    used, hidden_bound = _cell_names(cell.source)
    cell_bound = integrity.bound_names(cell.source)
    try:
        # Builtins are the grader's own: a student's cell that re-binds `isinstance` or `open` changes no test.
        test_bound |= cell_bound
        wanted = sorted(name for name in used if (name in student_names or name not in namespace)
                        and not hasattr(builtins, name) and not (name in test_bound and name in namespace
                                                                   and name not in cell_bound))
        values = session.request("names", {"names": wanted, "push": session.remote.outgoing_names()}) \
            if wanted else {}
        values = values if isinstance(values, dict) else {}
        shared = set()
        for name in wanted:
            if name in imports and name in values:
                # What the student imported, the grader imports itself: an installed module is never the
                # student's object, whatever their code later bound to the name.
                value = remote.trusted_import(*imports[name])
                if value is not remote.MISSING:
                    namespace[name] = value
                    continue
            if name in values:
                if name in namespace and remote.is_trusted(namespace[name], session.channel):
                    continue  # a module or helper of the instructor's (a locked cell's, a test's) stays theirs
                namespace[name] = values[name]
                shared.add(name)
            elif name in student_names:
                namespace.pop(name, None)  # never a stale value from an earlier cell
        session.remote.names = remote.SharedNames(namespace, shared, hidden_bound)
        namespace["__autograder_failure"] = _assertion_failure
        # Tracebacks for the instructor quote the test's lines; feedback removes them (autograder.feedback).
        linecache.cache[filename] = (len(python), None, python.splitlines(True), filename)
        code = _compile_test(python, filename, hidden)
        remaining = max(0.5, session.deadline - time.monotonic())
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(errors), \
                in_submission_folder(workdir), time_limit(remaining + GRACE_SECONDS):
            exec(code, namespace)
        partial, shown = _partial_credit(namespace.pop("__autograder_result", None), points, session.channel)
    except SandboxLost as lost:
        error = lost
    except Exception as raised:  # any failure of the test code is a failed test
        error = raised
    finally:
        if session.remote.names is not None:
            session.remote.pending.append(session.remote.names.outgoing())
            session.remote.names = None
        for name in ("__autograder_failure", "__autograder_left", "__autograder_right", "__autograder_result"):
            namespace.pop(name, None)
    cell.outputs = []
    if captured.getvalue():
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=captured.getvalue()[:100_000]))
    if errors.getvalue():
        cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=errors.getvalue()[:100_000]))
    if error is None and errors.getvalue():
        # nbgrader scores 0 a test cell that wrote to standard error (a warning, say), even when nothing failed.
        first = errors.getvalue().strip().splitlines()[0][:300] if errors.getvalue().strip() else ""
        message = f"This test cell wrote to standard error, which nbgrader scores 0: {first}"
        return TestResult(grade_id, points, 0.0, "failed", message, message)
    if error is None:
        if shown:
            cell.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": shown},
                                                       execution_count=None))
        if partial is not None and partial < points:
            return TestResult(grade_id, points, partial, "partial credit",
                              f"Partial credit: {partial:g} of {points:g} points.")
        return TestResult(grade_id, points, points if partial is None else partial, "passed")
    if isinstance(error, SandboxLost):
        cell.outputs.append(_error_output("GradingStopped", error.reason, [f"Grading stopped: {error.reason}."]))
        return TestResult(grade_id, points, 0.0, "not run", f"Not run: {error.reason}.", error.reason)
    if isinstance(error, remote.GraderLimit):
        message = f"The grader could not run this test as written: {error}"
        cell.outputs.append(_error_output("GraderLimit", GRADER_LIMIT_NOTE, [GRADER_LIMIT_NOTE]))
        return TestResult(grade_id, points, 0.0, "grader limit", message, message)
    student = remote.raised_by_student(error)
    if student is not None:
        ename, evalue, trace = student
        lines = [f"Your code raised {ename} when a test called it:"] + trace.splitlines()[-12:]
        cell.outputs.append(_error_output(ename, f"{STUDENT_RAISED}{evalue}", lines))
        return TestResult(grade_id, points, 0.0, "failed", f"{ename} raised by your code: {evalue}".rstrip(": "),
                          f"{ename}: {evalue}")
    ename = type(error).__name__
    try:
        evalue = str(error)
    except BaseException:
        evalue = ""
    line = _failed_line(error, filename)
    visible = not hidden or line is not None and not any(start <= line <= end for start, end in hidden)
    if visible and hidden:
        evalue = f"{VISIBLE_FAILURE}{evalue}"
    cell.outputs.append(_error_output(ename, evalue, _trusted_traceback(error, filename)))
    message = f"{ename}: {evalue.removeprefix(VISIBLE_FAILURE)}".rstrip(": ") if visible \
        else safe_error_summary(ename, evalue)
    return TestResult(grade_id, points, 0.0, "failed", message, f"{ename}: {evalue}")
