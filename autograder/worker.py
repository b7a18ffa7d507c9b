"""The student side of grading: runs inside the sandbox and answers the grader over one socket.

Started by :mod:`autograder.runner` as ``python -I -m autograder.worker`` in a fresh sandbox for each
submission. It executes the cells it is sent, one at a time, with IPython (the engine of the Jupyter kernel),
records their outputs for feedback, and calls the student's functions when the grader asks, sending back only
plain data (:mod:`autograder.wire`). It never sees a test: hidden tests stay in the grader's process.

What it reports about the student's code (patched NumPy or builtins, IPython hooks, processes, signals, files
outside its folder) is sent as it happens; it is evidence for the instructor, never a source of points.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import signal
import socket
import sys
import threading
import traceback

from . import wire

# Student code in the same process may replace builtins (len, isinstance, ...); this module keeps the originals.
globals().update({name: value for name, value in vars(__import__("builtins")).items() if not name.startswith("__")})

CELL_TEXT_LIMIT = 100_000  # characters of stdout or stderr kept per cell
DISPLAY_LIMIT = 2 << 20  # bytes of one rich output
OUTPUTS_PER_CELL = 30
LINE_LIMIT = 5000  # characters of one traceback line (the grader keeps no more)
SHOWN_MIME_TYPES = ("text/plain", "image/png", "image/jpeg", "text/latex")
WATCHED = {  # module -> attributes whose replacement would fool a comparison in the student's own process
    "numpy": ("allclose", "isclose", "array_equal", "array_equiv", "all", "any", "abs", "isfinite", "asarray"),
    "numpy.testing": ("assert_allclose", "assert_array_equal", "assert_almost_equal", "assert_array_almost_equal",
                      "assert_equal"),
    "autograder": ("assert_close", "assert_shape", "check_gradient", "check_backward", "assert_finite"),
    "autograder.checks": ("assert_close", "assert_shape", "check_gradient", "check_backward", "assert_finite",
                          "_as_numeric_array"),
}
WATCHED_SIGNALS = ("SIGINT", "SIGTERM", "SIGALRM")


class CellTimeout(TimeoutError):
    pass


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int):
        self.parts, self.kept, self.dropped, self.limit = [], 0, 0, limit

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = max(0, self.limit - self.kept)
        self.parts.append(text[:room])
        self.kept += min(room, len(text))
        self.dropped += len(text) - min(room, len(text))
        return len(text)

    def value(self) -> str:
        return "".join(self.parts)


class Watcher:
    """What the student's code changed or attempted; each finding is sent to the grader once."""

    def __init__(self, channel: wire.Channel, shell):
        self.channel, self.shell = channel, shell
        self.sent: set = set()
        self.active = False  # True while student code runs: the audit hook ignores the worker's own work
        self.sending = False
        self.allowed_roots = tuple(sorted({os.path.realpath(p) for p in (
            sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(wire.__file__)), os.getcwd(),
            "/usr", "/lib", "/lib64", "/etc", "/dev", "/proc/self", "/sys", "/tmp")}))
        self.baseline = self.snapshot()
        sys.addaudithook(self.audit)

    def report(self, kind: str, detail: str) -> None:
        if (kind, detail) in self.sent or len(self.sent) > 60 or self.sending:
            return
        self.sent.add((kind, detail))
        self.sending = True
        try:
            self.channel.note(kind, detail)
        except Exception:
            pass
        finally:
            self.sending = False

    def snapshot(self) -> dict:
        state = {}
        for module_name, names in WATCHED.items():
            module = sys.modules.get(module_name)
            for name in names:
                state[f"{module_name}.{name}"] = getattr(module, name, None) if module else None
        state["builtins"] = dict(vars(builtins))
        state["signals"] = {name: signal.getsignal(getattr(signal, name)) for name in WATCHED_SIGNALS}
        shell = self.shell
        state["hooks"] = (list(shell.ast_transformers), list(shell.input_transformers_post),
                          {event: list(callbacks) for event, callbacks in shell.events.callbacks.items()})
        return state

    def check(self) -> None:
        """Compare with the state before student code ran (modules imported later are compared once loaded)."""
        for module_name, names in WATCHED.items():
            module = sys.modules.get(module_name)
            if module is None:
                continue
            for name in names:
                key = f"{module_name}.{name}"
                current = getattr(module, name, None)
                if self.baseline.get(key) is None:
                    self.baseline[key] = current
                elif current is not self.baseline[key]:
                    kind = "patched grading helpers" if module_name.startswith("autograder") else "patched numpy"
                    self.report(kind, f"replaced {key}")
        before = self.baseline["builtins"]
        now = vars(builtins)
        changed = sorted(name for name in set(before) | set(now)
                         if name not in ("_", "__", "___") and before.get(name) is not now.get(name))
        if changed:
            self.report("patched builtins", "changed builtins: " + ", ".join(changed[:8]))
            # Put them back: IPython and this worker need working builtins to go on with the notebook.
            now.clear()
            now.update(before)
        for name, handler in self.baseline["signals"].items():
            if signal.getsignal(getattr(signal, name)) != handler:
                self.report("changed signal handlers", f"changed the {name} handler")
        ast_before, post_before, events_before = self.baseline["hooks"]
        shell = self.shell
        if list(shell.ast_transformers) != ast_before:
            self.report("installed IPython hooks", "added an AST transformer")
        if list(shell.input_transformers_post) != post_before:
            self.report("installed IPython hooks", "added an input transformer")
        for event, callbacks in shell.events.callbacks.items():
            added = [c for c in callbacks if c not in events_before.get(event, [])
                     and "matplotlib" not in getattr(c, "__module__", "") + str(getattr(c, "__qualname__", ""))]
            if added:
                self.report("installed IPython hooks", f"registered a {event} callback")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            self.report("installed a trace function", "set sys.settrace or sys.setprofile")
        others = [t for t in threading.enumerate() if t is not threading.main_thread()]
        if others:
            self.report("started a background process", f"{len(others)} thread(s) still running")
        children = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        if children:
            self.report("started a background process", f"{len(children)} process(es) still running")

    @staticmethod
    def from_student() -> bool:
        """Whether the nearest caller outside the standard library is a notebook cell."""
        standard = os.path.realpath(os.path.dirname(os.__file__))
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith("<"):
                return filename.startswith(("<ipython-input", "<cell"))
            full = os.path.realpath(filename)
            if not full.startswith(standard) or "site-packages" in full:
                return False
            frame = frame.f_back
        return False

    def audit(self, event: str, args) -> None:
        if not self.active or self.sending:
            return
        if event == "open":
            path = args[0]
            if isinstance(path, bytes):
                path = path.decode("utf-8", "replace")
            if not isinstance(path, str):
                return
            full = os.path.realpath(os.path.join(os.getcwd(), path))
            lowered = full.lower()
            if any(word in lowered for word in (".ipynb", "gradebook", "submitted", "autograded", "/source")):
                self.report("tried to read course files", f"opened {path[:200]}")
            elif not full.startswith(self.allowed_roots):
                self.report("tried to read course files", f"opened {path[:200]} (outside its folder)")
        elif event in ("os.fork", "os.forkpty", "subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn",
                       "os.exec"):
            if self.from_student():  # libraries start helpers of their own (matplotlib asks fc-list for fonts)
                self.report("started a background process", event)
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            self.report("sent signals", event)
        elif event in ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto"):
            self.report("tried the network", event)
        elif event in ("ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof"):
            self.report("inspected the interpreter", event)
        elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames"):
            self.report("inspected the interpreter", event)
        elif event in ("os.remove", "os.rename", "os.rmdir", "shutil.rmtree", "os.chmod", "os.truncate"):
            path = str(args[0])
            full = os.path.realpath(os.path.join(os.getcwd(), path))
            if not full.startswith(os.path.realpath(os.getcwd())):
                self.report("tried to change other files", f"{event} {path[:200]}")


def make_shell():
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class RecordingPublisher(DisplayPublisher):
        outputs: list = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            type(self).outputs.append({"output_type": "display_data", "data": dict(data or {}),
                                       "metadata": {}})

        def clear_output(self, wait=False):
            type(self).outputs.clear()

    class RecordingHook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            RecordingPublisher.outputs.append({"output_type": "execute_result", "data": dict(format_dict),
                                               "metadata": {}, "execution_count": self.shell.execution_count})

        def finish_displayhook(self):
            pass

    class GradingShell(InteractiveShell):
        errors: list = []

        def _showtraceback(self, etype, evalue, stb):
            # Lines cut short: a huge message must not make the reply too large to send.
            type(self).errors.append({"output_type": "error", "ename": getattr(etype, "__name__", "Error"),
                                      "evalue": str(evalue)[:2000],
                                      "traceback": [str(line)[:LINE_LIMIT] for line in list(stb)[-60:]]})

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    config.InteractiveShell.xmode = "Plain"
    shell = GradingShell.instance(config=config, displayhook_class=RecordingHook,
                                  display_pub_class=RecordingPublisher)
    return shell, RecordingPublisher.outputs, GradingShell.errors


class GraderProxy(wire.Proxy):
    """Stands in, inside the sandbox, for a function of the grader's (a function a test passes in)."""

    __slots__ = ("__name__",)

    def __init__(self, channel: wire.Channel, ref: wire.Ref):
        super().__init__(channel, ref)
        self.__name__ = ref.name

    def __call__(self, *args, **kwargs):
        return self._channel.request("call", {"target": self, "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._channel.request("getattr", {"target": self, "name": name})

    def __repr__(self) -> str:
        return f"<function {self.__name__} given by the test>"


def _rigged(value) -> bool:
    """Whether a value is an object whose class answers comparisons itself (not plain data, not NumPy's)."""
    return not isinstance(value, (int, float, complex, str, bytes, list, tuple, dict, set, frozenset, type(None))) \
        and type(value).__module__ != "numpy" and type(value).__eq__ is not object.__eq__


def _student_traceback(error: BaseException) -> str:
    """The last frames and the message of a student's exception, cut short (a message can be hundreds of MB)."""
    try:
        message = str(error)
    except Exception:
        message = "(the exception could not be shown)"
    frames = [frame[:LINE_LIMIT] for frame in traceback.format_tb(error.__traceback__)[-11:]]
    header = ["Traceback (most recent call last):\n"] if frames else []
    last = f"{type(error).__name__}: {message[:2000]}" if message else type(error).__name__
    return "".join(header + frames) + last + "\n"


def _fingerprint(value):
    buffers: list = []
    tree = wire.encode(value, lambda obj: wire.Ref("student", id(obj), "object", ""), buffers)
    return repr(tree), [bytes(b) for b in buffers]


@contextlib.contextmanager
def _test_context(context):
    """Run a call under the calling test's warning filters and NumPy error handling (see runner.call_context)."""
    import warnings

    import numpy as np
    context = context if isinstance(context, dict) else {}
    errstate = {key: value for key, value in (context.get("errstate") or {}).items()
                if key in ("divide", "over", "under", "invalid")
                and value in ("ignore", "warn", "raise", "call", "print", "log")}
    with warnings.catch_warnings(), np.errstate(**errstate):
        filters = context.get("warnings") or []
        for entry in reversed(filters if isinstance(filters, list) else []):
            action, name = (entry + [None, None])[:2] if isinstance(entry, list) else (None, None)
            category = getattr(builtins, str(name), None)
            if action in ("error", "ignore", "always", "default", "module", "once") and isinstance(category, type) \
                    and issubclass(category, Warning):
                warnings.simplefilter(action, category)
        yield


class Worker:
    def __init__(self, sock: socket.socket):
        self.channel = wire.Channel(sock, "student", self._proxy, self.handle)
        self.shell, self.outputs, self.errors = make_shell()
        self.seconds = 60.0
        self._on_alarm = self._timeout  # one bound method, so the watcher can tell it is still in place
        signal.signal(signal.SIGALRM, self._on_alarm)
        self.watcher = Watcher(self.channel, self.shell)

    def _proxy(self, channel, ref):
        return GraderProxy(channel, ref)

    def _timeout(self, signum, frame):
        raise CellTimeout(f"stopped after {self.seconds:g} s (the time limit)")

    def _run_student(self, function, seconds: float):
        """Run student code with the time limit armed and the watcher listening."""
        self.seconds = seconds
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        self.watcher.active = True
        try:
            return function()
        finally:
            self.watcher.active = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.watcher.check()

    def handle(self, verb: str, body):
        if verb == "hello":
            return {"python": sys.version.split()[0], "pid": os.getpid()}
        if verb == "run":
            return self.run_cell(str(body["source"]), float(body.get("seconds", 60)))
        if verb == "names":
            namespace = self.shell.user_ns
            values = {name: namespace[name] for name in body["names"]
                      if name in namespace and type(namespace[name]).__name__ != "module"}
            for name, value in values.items():
                if _rigged(value):
                    self.watcher.report("rigged comparison object",
                                        f"{name} is a {type(value).__name__} object that defines its own comparison")
            return values
        if verb == "call":
            with _test_context(body.get("context")):
                return self.call(body["target"], body.get("args", []), body.get("kwargs", {}),
                                 float(body.get("seconds", 60)))
        if verb == "getattr":
            target, name = body["target"], str(body["name"])
            if name.startswith("_"):
                raise AttributeError(f"{name} is not available to the tests")
            return self._run_student(lambda: getattr(target, name), float(body.get("seconds", 60)))
        raise ValueError(f"unknown request {verb[:30]!r}")

    def run_cell(self, source: str, seconds: float) -> dict:
        stdout, stderr = CappedText(CELL_TEXT_LIMIT), CappedText(CELL_TEXT_LIMIT)
        self.outputs.clear()
        self.errors.clear()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        try:
            result = self._run_student(lambda: self.shell.run_cell(source, store_history=True), seconds)
            failed = not result.success
        except BaseException as error:  # the alarm can fire outside IPython's own handler
            self.errors.append({"output_type": "error", "ename": type(error).__name__, "evalue": str(error)[:2000],
                                "traceback": [line[:LINE_LIMIT] for line in
                                              traceback.format_exception_only(type(error), error)]})
            failed = True
        finally:
            sys.stdout, sys.stderr = saved
        outputs = []
        if stdout.value():
            outputs.append({"output_type": "stream", "name": "stdout", "text": stdout.value()})
        for output in self.outputs[:OUTPUTS_PER_CELL]:
            data = {mime: value for mime, value in output["data"].items()
                    if mime in SHOWN_MIME_TYPES and isinstance(value, str) and len(value) <= DISPLAY_LIMIT}
            if data:
                outputs.append(dict(output, data=data))
        if stderr.value():
            outputs.append({"output_type": "stream", "name": "stderr", "text": stderr.value()})
        outputs.extend(self.errors[:3])
        dropped = stdout.dropped + stderr.dropped
        if dropped:
            self.watcher.report("flooded output", f"{dropped} characters of output beyond the limit")
        if any(e["ename"] == "MemoryError" for e in self.errors):
            self.watcher.report("exhausted memory", "a cell ran out of memory")
        if any(e["ename"] in ("BlockingIOError",) and "fork" in " ".join(e["traceback"]) for e in self.errors):
            self.watcher.report("exhausted processes", "could not start more processes")
        return {"outputs": outputs, "failed": failed, "execution_count": self.shell.execution_count - 1,
                "dropped": dropped}

    def call(self, target, args: list, kwargs: dict, seconds: float) -> dict:
        if not callable(target):
            raise TypeError(f"{type(target).__name__} object is not callable")
        watched = {key: value for key, value in list(enumerate(args)) + list(kwargs.items())
                   if type(value).__name__ in ("ndarray", "list", "dict")}
        before = {key: _fingerprint(value) for key, value in watched.items()}
        try:
            value = self._run_student(lambda: target(*args, **kwargs), seconds)
        except BaseException as error:
            # The student's traceback is theirs to see; no test code runs in this process.
            error.shown_traceback = _student_traceback(error)
            if isinstance(error, MemoryError):
                self.watcher.report("exhausted memory", "a function ran out of memory")
            raise
        if _rigged(value):
            self.watcher.report("rigged comparison object",
                                f"returned a {type(value).__name__} object that defines its own comparison")
        changed = {str(key): value for key, value in watched.items() if _fingerprint(value) != before[key]}
        return {"value": value, "changed": changed}


def main() -> int:
    descriptor = int(os.environ["AUTOGRADER_CHANNEL_FD"])
    sock = socket.socket(fileno=descriptor)
    os.environ.pop("AUTOGRADER_CHANNEL_FD")
    worker = Worker(sock)
    # A forked copy of this process (student code calling os.fork) must not talk on the channel: its frames
    # would interleave with this process's, or answer the grader's requests a second time.
    os.register_at_fork(after_in_child=sock.close)
    worker.channel.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
