"""The student side of grading: runs inside the sandbox and answers the grader over one socket.

Started by :mod:`autograder.runner` as ``python -I -m autograder.sandbox.worker`` in a fresh sandbox for each
submission. It executes the cells it is sent, one at a time, with IPython (the engine of the Jupyter kernel),
records their outputs for feedback, and calls the student's functions when the grader asks, sending back only
plain data (:mod:`autograder.sandbox.wire`). It never sees a test: hidden tests stay in the grader's process.

What it reports about the student's code (patched NumPy or builtins, IPython hooks, processes, signals, files
outside its folder) is sent as it happens; it is evidence for the instructor, never a source of points.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import inspect
import io
import math
import operator
import os
import signal
import socket
import sys
import threading
import traceback
import types

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


PROCESS_EVENTS = ("os.fork", "os.forkpty", "subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec")
SIGNAL_EVENTS = ("os.kill", "os.killpg", "signal.pthread_kill")
NETWORK_EVENTS = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto")
INSPECT_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.addressof", "gc.get_objects",
                  "gc.get_referrers", "gc.get_referents", "sys._current_frames")
CHANGE_EVENTS = ("os.remove", "os.rename", "os.rmdir", "shutil.rmtree", "os.chmod", "os.truncate")
AUDITED = frozenset(("open", "sys._getframe", "compile", "code.__new__", *PROCESS_EVENTS, *SIGNAL_EVENTS,
                     *NETWORK_EVENTS, *INSPECT_EVENTS, *CHANGE_EVENTS))
SYSTEM_FOLDERS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/dev", "/sys", "/proc", "/tmp")
SCRATCH_FOLDERS = ("/tmp/", "/dev/shm/")  # the sandbox's own, emptied with it


def _folders(paths) -> tuple[str, ...]:
    """Real paths of folders, each ending with "/", for :func:`_under`."""
    return tuple(sorted({os.path.join(os.path.realpath(p), "") for p in paths}))


def _under(path: str, folders: tuple[str, ...]) -> bool:
    """Whether a path is one of these folders or inside one (``/tmp`` holds ``/tmp/a``, not ``/tmpa``)."""
    return os.path.join(path, "").startswith(folders)


def _package_folders() -> list[str]:
    """The course's packages, read-only in the sandbox (nnfs is located without being imported)."""
    import importlib.util
    try:
        spec = importlib.util.find_spec("nnfs")
    except (ImportError, ValueError):
        spec = None
    locations = (spec.submodule_search_locations if spec else None) or []
    autograder = os.path.dirname(os.path.dirname(os.path.realpath(wire.__file__)))
    return [autograder, *map(os.path.realpath, locations)]


class Watcher:
    """What the student's code changed or attempted; each finding is sent to the grader once.

    Libraries do some of what an attack does, on their own: psutil reads /proc when scikit-learn is imported,
    threadpoolctl loads libraries with ctypes, matplotlib asks fc-list for fonts. So an event of the audit hook
    (:func:`sys.addaudithook`) counts as the student's when the nearest caller outside the standard library is
    a notebook cell or a file the student could have written (their folder, /tmp), not a file of the read-only
    Python environment or of the course's packages. Some events are the notebook's doing whoever carries them
    out: opening instructor files, the network, changing files outside its folder. Threads left running count
    when they run the student's code, processes when the student's code started some; a class is rigged by the
    rule of :func:`autograder.integrity.class_rigging`, read from its compiled methods.
    """

    def __init__(self, channel: wire.Channel, shell):
        from ..integrity import course_path
        self.channel, self.shell = channel, shell
        self.course_path = course_path
        self.sent: set = set()
        self.active = False  # True while student code runs: the audit hook ignores the worker's own work
        self.sending = False
        self.busy = False  # inside the audit hook: what it does itself is nobody's act
        self.paths: dict[str, str] = {}  # file name -> real path, for the frames of the call stack
        self.disguised: set[str] = set()  # file names the student's code compiled code under
        self.examined: dict[int, type] = {}  # classes already looked at for rigged comparisons
        self.started_processes = False  # whether the student's code started any
        # IPython's open() for the notebook (a library's frame) does only what the cell asked for.
        self.wrappers = {getattr(shell.user_ns.get("open"), "__code__", None)} - {None}
        self.standard = _folders([os.path.dirname(os.__file__)])
        packages = _package_folders()
        executable = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
        self.code_roots = _folders([sys.prefix, sys.base_prefix, sys.exec_prefix, executable, *packages])
        self.allowed_roots = _folders([*SYSTEM_FOLDERS, os.getcwd(), *self.code_roots])
        # Where imports read: opening a file there needs no closer look (most opens are imports).
        sites = [p for p in sys.path if "-packages" in p]
        self.library_folders = _folders([*sites, *self.standard, *packages]) + tuple(
            os.path.join(p, "") for p in sites)
        self.cwd, self.folder = "", ()
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
        # Libraries keep helpers of their own (scikit-learn's n_jobs starts loky's threads and processes).
        others = [t for t in threading.enumerate() if t is not threading.main_thread() and self.students_thread(t)]
        if others:
            self.report("started a background process", f"{len(others)} thread(s) still running")
        if self.started_processes:
            children = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
            if children:
                self.report("started a background process", f"{len(children)} process(es) still running")
        self.check_classes()

    def check_classes(self) -> None:
        """Classes of the student's code, among the names a test can read, whose comparisons are rigged.

        The methods' compiled code is read, never run; a class made at run time (type(), exec) is found too.
        """
        from .. import integrity
        for name, value in list(self.shell.user_ns.items())[:2000]:
            if not isinstance(name, str) or name.startswith("_"):
                continue
            kind = type(value)
            if kind is list or kind is tuple:
                items = list(value[:20])
            else:
                items = list(value.values())[:20] if kind is dict else []
            for cls in [value if issubclass(kind, type) else kind, *(type(item) for item in items)]:
                if self.examined.get(id(cls)) is cls:
                    continue
                self.examined[id(cls)] = cls
                try:
                    reasons = integrity.class_rigging(cls, lambda code: not self.library_file(code.co_filename))
                    label = type.__dict__["__name__"].__get__(cls)
                except Exception:
                    continue
                if reasons:
                    shown = f"class {label}" if cls is value else f"{name} is a {label} object" if cls is kind \
                        else f"{name} holds {label} objects"
                    self.report("rigged comparison object", f"{shown}: {'; '.join(reasons[:4])}")

    def students_thread(self, thread: threading.Thread) -> bool:
        """Whether a thread runs the student's code: its target or run method, or a frame it is in now."""
        try:
            run = vars(thread).get("_target") or type.__dict__["__dict__"].__get__(type(thread)).get("run")
            code = getattr(run, "__code__", None)
            if code is not None and self.students_code(code.co_filename):
                return True
            frame = sys._current_frames().get(thread.ident)
            while frame is not None:
                if self.students_code(frame.f_code.co_filename):
                    return True
                frame = frame.f_back
        except Exception:
            pass
        return False

    def students_code(self, filename: str) -> bool:
        """Whether code from this file is the student's: a cell, text it ran, or a file it could have written."""
        if filename.startswith("<"):
            return not filename.startswith("<frozen")
        return filename in self.disguised or not (_under(self.realpath(filename), self.standard)
                                                  or self.library_file(filename))

    def realpath(self, filename: str) -> str:
        path = self.paths.get(filename)
        if path is None:
            path = os.path.realpath(filename)
            if len(self.paths) < 20_000:
                self.paths[filename] = path
        return path

    def library_file(self, filename: str) -> bool:
        """Whether code compiled from this file is the environment's or the course's, not the student's."""
        if filename.startswith("<") or filename in self.disguised:
            return False
        path = self.realpath(filename)
        # The environment may itself live under /tmp (a clone there): it is mounted read-only, so its files are
        # still the environment's; only the student's own folder is theirs within it.
        return _under(path, self.code_roots) and not _under(path, self.own_folder())

    def from_student(self, frame) -> bool:
        """Whether the nearest caller outside the standard library is the student's code (see the class doc)."""
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename.startswith("<"):
                if filename.startswith(("<ipython-input", "<cell")):
                    return True
                # Generated code (exec, dataclasses, the import system) is not a caller: who ran it is.
            elif frame.f_code in self.wrappers:
                pass
            elif filename in self.disguised:
                return True
            else:
                path = self.realpath(filename)
                if not _under(path, self.standard) or "-packages" in path:
                    module_file = dict.get(frame.f_globals, "__file__")
                    return not (self.library_file(filename) and isinstance(module_file, str)
                                and self.library_file(module_file))
            frame = frame.f_back
        return False

    def student_frame(self, frame) -> bool:
        """Whether the student's code itself (not a library or the standard library it called) is this frame."""
        while frame is not None and frame.f_code.co_filename.startswith("<") \
                and not frame.f_code.co_filename.startswith(("<ipython-input", "<cell")):
            frame = frame.f_back
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        path = filename if filename.startswith("<") else self.realpath(filename)
        return filename.startswith("<") or filename in self.disguised or \
            not (_under(path, self.standard) or self.library_file(filename))

    def audit(self, event: str, args) -> None:
        if not self.active or self.sending or self.busy or event not in AUDITED:
            return
        self.busy = True
        try:
            self.observe(event, args, sys._getframe(1))
        except Exception:
            pass  # the hook must never make the student's own operation fail
        finally:
            self.busy = False

    def observe(self, event: str, args, caller) -> None:
        """One audit event; ``caller`` is the frame that caused it."""
        if event == "open":
            self.opened(args[0], caller)
        elif event in PROCESS_EVENTS:
            if self.from_student(caller):
                self.started_processes = True
                self.report("started a background process", event)
        elif event in SIGNAL_EVENTS:
            if self.from_student(caller):
                self.report("sent signals", event)
        elif event in NETWORK_EVENTS:  # nothing the course uses goes online unasked
            self.report("tried the network", event)
        elif event in INSPECT_EVENTS:
            if self.from_student(caller):
                self.report("inspected the interpreter", event)
        elif event == "sys._getframe":  # the standard library asks for frames all the time: only a direct call
            if self.student_frame(caller):
                self.report("inspected the interpreter", event)
        elif event in ("compile", "code.__new__"):
            # Code the student compiles under a library's file name is still theirs when it runs.
            filename = args[1]
            if isinstance(filename, (str, bytes, os.PathLike)) and self.student_frame(caller) \
                    and len(self.disguised) < 1000:
                filename = os.fsdecode(filename)
                if not filename.startswith("<"):
                    self.disguised.add(filename)
        elif event in CHANGE_EVENTS:
            folders = self.own_folder() + SCRATCH_FOLDERS
            for path in args[:2] if event == "os.rename" else args[:1]:
                if isinstance(path, (str, bytes, os.PathLike)):
                    path = os.fsdecode(path)
                    if not _under(os.path.realpath(os.path.join(os.getcwd(), path)), folders):
                        self.report("tried to change other files", f"{event} {path[:200]}")

    def own_folder(self) -> tuple[str]:
        """The current folder (the student may change it), for :func:`_under`."""
        cwd = os.getcwd()
        if cwd != self.cwd:
            self.cwd, self.folder = cwd, _folders([cwd])
        return self.folder

    def opened(self, path, caller) -> None:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor
        path = os.fsdecode(path)
        if _under(path, self.library_folders) and "/.." not in path:
            return
        full = os.path.realpath(os.path.join(os.getcwd(), path))
        if _under(full, self.own_folder() + SCRATCH_FOLDERS):
            return  # its own folder and scratch space hold no course files
        if self.course_path(full) and not (_under(full, self.library_folders) or "-packages/" in full):
            # Whoever opens an instructor's file, a library or the student's own code, the notebook asked for it.
            self.report("tried to read course files", f"opened {path[:200]}")
        elif full.startswith("/proc/"):  # the sandbox's private /proc: its own processes only
            if os.path.basename(full) == "mem" and self.from_student(caller):
                self.report("inspected the interpreter", f"opened {path[:200]}")
        elif not _under(full, self.allowed_roots) and self.from_student(caller):
            self.report("tried to read course files", f"opened {path[:200]} (outside its folder)")


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
        return self._ask("call", {"target": self, "args": list(args), "kwargs": kwargs})

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ask("getattr", {"target": self, "name": name})

    def _ask(self, verb: str, body: dict):
        """The test's function raising ValueError raises ValueError here too, as in one kernel."""
        try:
            return self._channel.request(verb, body)
        except wire.RemoteError as error:
            kind = getattr(builtins, error.kind, None)
            try:
                same = kind(error.message) if isinstance(kind, type) and issubclass(kind, Exception) else None
            except Exception:  # an exception type that wants other arguments
                same = None
            if same is None or type(same) is Exception:
                raise
            raise same from None

    def __repr__(self) -> str:
        return f"<function {self.__name__} given by the test>"


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


FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.BuiltinMethodType,
                  types.MethodWrapperType, types.WrapperDescriptorType, types.MethodDescriptorType,
                  functools.partial)
IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
SOURCE_LIMIT = 100_000  # characters of a function's source sent for inspect.getsource


def _type_attr(cls, name: str, default=None):
    """An attribute of a class as ``type`` stores it (a metaclass cannot make it lie)."""
    try:
        return type.__dict__[name].__get__(cls)
    except Exception:
        return default


def _plain_default(value):
    return value if value is None or type(value) in (bool, int, float, str) else None


class Worker:
    def __init__(self, sock: socket.socket):
        self.channel = wire.Channel(sock, "student", self._proxy, self.handle, describe=self.describe,
                                    send_exceptions=True)
        self.shell, self.outputs, self.errors = make_shell()
        self.seconds = 60.0
        self.classes: dict[int, dict] = {}  # id(class) -> its description, sent with every object of it
        self._on_alarm = self._timeout  # one bound method, so the watcher can tell it is still in place
        signal.signal(signal.SIGALRM, self._on_alarm)
        self.watcher = Watcher(self.channel, self.shell)

    def _proxy(self, channel, ref):
        return GraderProxy(channel, ref)

    def _timeout(self, signum, frame):
        raise CellTimeout(f"stopped after {self.seconds:g} s (the time limit)")

    # What the grader learns about an object it gets a reference to: enough to stand in for it faithfully.
    def class_info(self, cls, depth: int = 0) -> dict:
        known = self.classes.get(id(cls))
        if known is not None and known["_class"] is cls:
            return known["info"]
        mro = _type_attr(cls, "__mro__", (cls,))
        namespaces = [_type_attr(k, "__dict__", {}) for k in mro if k is not object]
        specials = sorted(name for name in wire.SPECIAL_METHODS
                          if any(name in space and space[name] is not None for space in namespaces))
        unhashable = any("__hash__" in space for space in namespaces) and \
            next(space["__hash__"] for space in namespaces if "__hash__" in space) is None
        exception = None
        if issubclass(cls, BaseException):
            exception = next(k.__name__ for k in mro if getattr(builtins, _type_attr(k, "__name__", ""), None) is k)
        module = _type_attr(cls, "__module__", "")
        info = {"id": self.channel.handle_of(cls), "name": str(_type_attr(cls, "__name__", "object"))[:80],
                "qualname": str(_type_attr(cls, "__qualname__", ""))[:200],
                "module": module[:120] if isinstance(module, str) else "",
                "specials": specials, "unhashable": bool(unhashable), "exception": exception,
                "bases": [self.class_info(base, depth + 1) for base in _type_attr(cls, "__bases__", ())
                          if base is not object][:6] if depth < 8 else [],
                "doc": str(_type_attr(cls, "__doc__", "") or "")[:2000]}
        fields = getattr(cls, "_fields", None) if issubclass(cls, tuple) else None
        if type(fields) is tuple and all(type(f) is str for f in fields):
            info["fields"] = list(fields)[:200]
        self.classes[id(cls)] = {"_class": cls, "info": info}
        return info

    def function_info(self, function) -> dict:
        info = {"qualname": str(getattr(function, "__qualname__", ""))[:200],
                "module": str(getattr(function, "__module__", "") or "")[:120],
                "doc": str(getattr(function, "__doc__", "") or "")[:4000]}
        if type(function) is types.FunctionType:
            code = function.__code__
            if not code.co_filename.startswith(sys.prefix):  # a notebook cell's, not a library's
                try:
                    info["source"] = inspect.getsource(function)[:SOURCE_LIMIT]
                except (OSError, TypeError):
                    pass
            try:
                info["params"] = [[p.name, int(p.kind), p.default is not p.empty, _plain_default(p.default)]
                                  for p in inspect.signature(function).parameters.values()][:100]
            except (TypeError, ValueError):
                pass
        return info

    def describe(self, value) -> tuple[str, str, dict]:
        cls = type(value)
        try:
            if issubclass(cls, type):
                return "class", str(_type_attr(value, "__name__", "class"))[:80], {"cls": self.class_info(value)}
            if cls is types.ModuleType:
                return "object", str(value.__name__)[:80], {"import": str(value.__name__)[:200],
                                                            "cls": self.class_info(cls)}
            if issubclass(cls, FUNCTION_TYPES):
                name = getattr(value, "__name__", "function")
                return "function", str(name)[:80], self.function_info(value)
            return "object", str(_type_attr(cls, "__name__", "object"))[:80], {"cls": self.class_info(cls)}
        except Exception:  # a student object whose attributes raise is still an object
            return "object", "object", {}

    # The shared state of one kernel: the student's names, the global random generators, printed text.
    def name_ids(self) -> dict:
        return {name: id(value) for name, value in self.shell.user_ns.items()
                if not name.startswith("_") and name not in IPYTHON_NAMES}

    def name_changes(self, before: dict) -> dict | None:
        namespace = self.shell.user_ns
        now = self.name_ids()
        changed = {name: namespace[name] for name, ident in now.items() if before.get(name) != ident}
        deleted = [name for name in before if name not in now]
        return {"set": changed, "deleted": deleted} if changed or deleted else None

    def apply_names(self, pushes) -> None:
        """The test's deletions and re-bindings of shared names, in the order the tests made them."""
        namespace = self.shell.user_ns
        for push in pushes if isinstance(pushes, list) else []:
            if not isinstance(push, dict):
                continue
            for name in push.get("deleted") or []:
                if isinstance(name, str):
                    namespace.pop(name, None)
            for name, value in (push.get("set") or {}).items():
                if isinstance(name, str) and name.isidentifier():
                    namespace[name] = value

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
            self.apply_names(body.get("names"))
            return self.run_cell(str(body["source"]), float(body.get("seconds", 60)), body.get("rng"))
        if verb == "names":
            self.apply_names(body.get("push"))
            namespace = self.shell.user_ns
            return {name: namespace[name] for name in body["names"] if isinstance(name, str) and name in namespace}
        if verb == "op":
            return self.op(body)
        raise ValueError(f"unknown request {verb[:30]!r}")

    def run_cell(self, source: str, seconds: float, rng=None) -> dict:
        stdout, stderr = CappedText(CELL_TEXT_LIMIT), CappedText(CELL_TEXT_LIMIT)
        self.outputs.clear()
        self.errors.clear()
        wire.set_random_state(rng)
        state = wire.random_state()
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
        after = wire.random_state()
        return {"outputs": outputs, "failed": failed, "execution_count": self.shell.execution_count - 1,
                "dropped": dropped, "rng": None if wire.same_random_state(state, after) else after}

    def op(self, body: dict) -> dict:
        """One thing a test does with the student's objects, as it would happen in one kernel.

        body: op (a key of OPERATIONS), target, args, kwargs; names and rng: the test's changes to the shared
        names and the global random generators, applied first; seconds: the time limit
        Returns the value, and what the call changed that the test shares: its array, list and dict arguments
        changed in place, the student's names, the random generators, and what it printed.
        """
        operation = OPERATIONS.get(str(body.get("op")))
        if operation is None:
            raise ValueError("unknown operation")
        target, args, kwargs = body.get("target"), body.get("args") or [], body.get("kwargs") or {}
        if not isinstance(args, list) or not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise TypeError("malformed operation")
        self.apply_names(body.get("names"))
        wire.set_random_state(body.get("rng"))
        state, names = wire.random_state(), self.name_ids()
        watched = {key: value for key, value in list(enumerate(args)) + list(kwargs.items())
                   if type(value).__name__ in ("ndarray", "list", "dict")}
        before = {key: _fingerprint(value) for key, value in watched.items()}
        stdout, stderr = CappedText(CELL_TEXT_LIMIT), CappedText(CELL_TEXT_LIMIT)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        reply: dict = {}
        try:
            with _test_context(body.get("context")):
                reply["value"] = self._run_student(lambda: operation(target, *args, **kwargs),
                                                   float(body.get("seconds", 60)))
        except StopIteration as stop:
            if body.get("op") != "next":
                raised = wire.describe_error(stop)
                raised["traceback"] = _student_traceback(stop)
                reply["raised"] = raised
            else:
                reply["stop"] = True
                reply["value"] = stop.value
        except BaseException as error:
            if isinstance(error, MemoryError):
                self.watcher.report("exhausted memory", "a function ran out of memory")
            if not isinstance(error, Exception):  # the time limit, an exit: the grader's business
                raise
            # The student's traceback is theirs to see; no test code runs in this process.
            raised = wire.describe_error(error)
            raised["traceback"] = _student_traceback(error)
            raised["object"] = error
            if "GraderProxy" in raised["message"]:  # the student's code used a test's object in a way that stays here
                raised["limit"] = True
            reply["raised"] = raised
        finally:
            sys.stdout, sys.stderr = saved
        if stdout.dropped or stderr.dropped:
            self.watcher.report("flooded output", f"{stdout.dropped + stderr.dropped} characters of output "
                                                  "beyond the limit")
        reply["stdout"], reply["stderr"] = stdout.value(), stderr.value()
        reply["changed"] = {str(key): value for key, value in watched.items() if _fingerprint(value) != before[key]}
        reply["names"] = self.name_changes(names)
        after = wire.random_state()
        reply["rng"] = None if wire.same_random_state(state, after) else after
        return reply


def _binary(function):
    return lambda target, left, right: function(left, right)


def _array(target, *args, **kwargs):
    import numpy
    return numpy.asarray(target)


OPERATIONS = {
    "call": lambda target, *args, **kwargs: target(*args, **kwargs),
    "getattr": lambda target, name: getattr(target, str(name)),
    "setattr": lambda target, name, value: setattr(target, str(name), value),
    "delattr": lambda target, name: delattr(target, str(name)),
    "len": lambda target: len(target),
    "iter": lambda target: iter(target),
    "next": lambda target: next(target),
    "reversed": lambda target: reversed(target),
    "getitem": lambda target, key: target[key],
    "setitem": lambda target, key, value: target.__setitem__(key, value),
    "delitem": lambda target, key: target.__delitem__(key),
    "contains": lambda target, item: item in target,
    "bool": lambda target: bool(target),
    "hash": lambda target: hash(target),
    "repr": lambda target: repr(target),
    "str": lambda target: str(target),
    "format": lambda target, spec: format(target, str(spec)),
    "int": lambda target: int(target),
    "float": lambda target: float(target),
    "complex": lambda target: complex(target),
    "index": lambda target: operator.index(target),
    "round": lambda target, *digits: round(target, *digits),
    "trunc": lambda target: math.trunc(target),
    "floor": lambda target: math.floor(target),
    "ceil": lambda target: math.ceil(target),
    "neg": lambda target: -target,
    "pos": lambda target: +target,
    "abs": lambda target: abs(target),
    "invert": lambda target: ~target,
    "enter": lambda target: target.__enter__(),
    "exit": lambda target, *details: target.__exit__(*details),
    "array": _array,
    "dir": lambda target: sorted(str(name) for name in dir(target))[:2000],
    **{name: _binary(getattr(operator, name)) for name in wire.BINARY_OPERATORS},
    "divmod": _binary(divmod),
}


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
