"""Stand-ins, in the grader's process, for the functions, classes and objects of a student's sandboxed process.

Used by :mod:`autograder.runner` only. A test cell runs in the grader and sees the student's work through
stand-ins that behave like it: calls, attributes, operators, ``len``, iteration, indexing, ``in``, ``with``,
``isinstance``/``issubclass`` with the student's classes, ``except`` with their exception classes, and
``inspect.getsource``/``inspect.signature`` of their functions. Each of these is one request to the student's
process (:meth:`Remote.op`), the only place student code runs; plain data (numbers, text, arrays, sets, named
tuples...) arrives as a copy (:mod:`autograder.sandbox.wire`). One kernel's shared state travels with every request in
both directions: the names the test shares with the student's namespace (:class:`SharedNames`), the global
random generators of ``random`` and NumPy, and what the student's code prints.

What student code is never asked, so it cannot decide a grade: whether a student object equals or orders
against a value of the test's own (``==`` is False unless it is the very object, ``<`` raises TypeError), and
the truth of a student object whose class defines ``__bool__`` (a grader limit, said loudly). It is asked only
when the test itself uses one of the student's methods or operators, on the student's own objects.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import inspect
import linecache
import os
import re
import sys
import types

import numpy as np

from .sandbox import wire

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,8}$")
NEVER_IMPORTED = {"__main__", "antigravity", "this", "webbrowser", "__hello__", "__phello__"}
# Attributes with dunder names that a test may read from a student object (others are the grader's own).
DUNDER_ATTRIBUTES = {"__dict__", "__doc__", "__name__", "__qualname__", "__module__", "__slots__", "__annotations__",
                     "__dataclass_fields__", "__match_args__", "__wrapped__", "__self__", "__func__", "__defaults__",
                     "__kwdefaults__", "__file__", "__version__", "__all__"}
EXCEPTIONS = {name: value for name, value in vars(builtins).items()
              if isinstance(value, type) and issubclass(value, BaseException)
              and name not in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseExceptionGroup",
                               "ExceptionGroup")}


class GraderLimit(Exception):
    """Something a test asked that the grader does not do; the message names the limit and the way around it."""


class StudentCodeError(Exception):
    """The student's code raised; ``kind`` is the type it raised, ``student_traceback`` their frames only."""

    def __init__(self, kind: str, message: str, student_traceback: str):
        super().__init__(message)
        self.kind, self.message, self.student_traceback = kind, message, student_traceback


def raised_by_student(error: BaseException) -> tuple[str, str, str] | None:
    """(type name, message, student traceback) when ``error`` came from the student's code, else None."""
    if isinstance(error, StudentCodeError):
        return error.kind, error.message, error.student_traceback
    details = vars(error).get("_remote_error") if hasattr(error, "__dict__") else None
    return details if isinstance(details, tuple) else None


def _builtin_error(kind: str, message: str, traceback: str) -> StudentCodeError:
    """An exception that ``except ValueError`` (or whatever builtin the student raised) in a test can catch."""
    base = EXCEPTIONS.get(kind)
    if base is not None and issubclass(base, Exception) and base is not Exception:
        cls = type(kind, (StudentCodeError, base), {})
        return cls(kind, message, traceback)
    return StudentCodeError(kind, message, traceback)


def _remote(obj) -> "Remote":
    return object.__getattribute__(obj, "_remote_session")


def _ref(obj) -> wire.Ref:
    return object.__getattribute__(obj, "_remote_ref")


class RemoteObject:
    """Base of the stand-ins for the student's objects (one stand-in per object, so ``is`` keeps its meaning)."""

    def __getattr__(self, name):
        if name.startswith("_remote") or (name.startswith("__") and name.endswith("__")
                                          and name not in DUNDER_ATTRIBUTES):
            raise AttributeError(name)
        return _remote(self).op(self, "getattr", name)

    def __setattr__(self, name, value):
        if name.startswith("__") and name.endswith("__"):
            return object.__setattr__(self, name, value)
        _remote(self).op(self, "setattr", name, value)

    def __delattr__(self, name):
        _remote(self).op(self, "delattr", name)

    def __repr__(self):
        return _text(_remote(self).op(self, "repr"), "repr")

    def __str__(self):
        return _text(_remote(self).op(self, "str"), "str")

    def __format__(self, spec):
        return _text(_remote(self).op(self, "format", spec), "format")

    def __dir__(self):
        names = _remote(self).op(self, "dir")
        return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []

    def __bool__(self):
        cls = type(self)
        if getattr(cls, "_remote_defines_bool", False):
            raise GraderLimit(
                f"the truth of a {cls.__name__} object (its class defines __bool__) is not decided by the "
                "student's code when grading. Instructor: compare with a value (`== True`, `is True`) instead of "
                "`assert obj`, or grade this part by hand.")
        if hasattr(cls, "__len__"):
            return len(self) != 0
        return True


class RemoteClass(type):
    """The type of the stand-ins for the student's classes: calling one builds an object in the student's process."""

    def __call__(cls, *args, **kwargs):
        if "_remote_session" not in cls.__dict__:  # a class of the grader's that derives from a stand-in
            return super().__call__(*args, **kwargs)
        return cls._remote_session.op(cls, "call", *args, **kwargs)

    def __getattr__(cls, name):
        if name.startswith("_remote") or (name.startswith("__") and name.endswith("__")
                                          and name not in DUNDER_ATTRIBUTES) or "_remote_session" not in cls.__dict__:
            raise AttributeError(name)
        return cls._remote_session.op(cls, "getattr", name)

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__qualname__}'>"


def _text(value, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"__{what}__ returned non-string (type {type(value).__name__})")
    return value


def _integer(value, what: str) -> int:
    if type(value) is bool or not isinstance(value, (int, np.integer)):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer ({what})")
    return int(value)


def _same_side(remote: "Remote", value) -> bool:
    """Whether ``value`` is one of this submission's stand-ins (an object, class or function of the student's)."""
    if isinstance(value, RemoteObject) or isinstance(value, RemoteClass):
        try:
            return _remote(value) is remote
        except AttributeError:
            return False
    stand_in = remote.channel.stand_ins.get(id(value))
    return stand_in is not None and stand_in[0] is value


def _comparison(name: str):
    def compare(self, other):
        remote = _remote(self)
        if not _same_side(remote, other):
            return NotImplemented  # the grader decides: a trusted value is never equal to a student object
        return remote.op(None, name, self, other)
    compare.__name__ = f"__{name}__"
    return compare


def _binary(name: str, reflected: bool = False):
    def apply(self, other):
        return _remote(self).op(None, name, other, self) if reflected else _remote(self).op(None, name, self, other)
    apply.__name__ = f"__{'r' if reflected else ''}{name.rstrip('_')}__"
    return apply


def _unary(name: str, check=None):
    def apply(self, *args):
        value = _remote(self).op(self, name, *args)
        return check(value, name) if check else value
    apply.__name__ = f"__{name}__"
    return apply


def _float(value, what):
    if not isinstance(value, (float, np.floating)):
        raise TypeError(f"__float__ returned non-float (type {type(value).__name__})")
    return float(value)


def _complex(value, what):
    if not isinstance(value, (complex, float, int, np.number)):
        raise TypeError(f"__complex__ returned non-complex (type {type(value).__name__})")
    return complex(value)


def _length(value, what):
    value = _integer(value, what)
    if value < 0:
        raise ValueError("__len__() should return >= 0")
    return value


def _contains(self, item):
    value = _remote(self).op(self, "contains", item)
    if type(value) is not bool:
        raise TypeError("the answer to `in` did not come back as True or False")
    return value


def _array(self, dtype=None, copy=None):
    value = _remote(self).op(self, "array")
    if not isinstance(value, np.ndarray):
        raise GraderLimit(f"a {type(self).__name__} object does not convert to an array of numbers, booleans or "
                          "text, which is all that can leave the student's process. Instructor: have the student "
                          "return an array, or grade this part by hand.")
    return value.astype(dtype) if dtype is not None else value


def _exit(self, kind, value, traceback):
    return _remote(self).op(self, "exit", kind if kind is None else None, value, None)


SPECIAL_FORWARDERS = {
    "__call__": lambda self, *args, **kwargs: _remote(self).op(self, "call", *args, **kwargs),
    "__len__": _unary("len", _length),
    "__iter__": _unary("iter"),
    "__next__": _unary("next"),
    "__reversed__": _unary("reversed"),
    "__getitem__": _unary("getitem"),
    "__setitem__": lambda self, key, value: _remote(self).op(self, "setitem", key, value) and None,
    "__delitem__": lambda self, key: _remote(self).op(self, "delitem", key) and None,
    "__contains__": _contains,
    "__hash__": _unary("hash", _integer),
    "__neg__": _unary("neg"), "__pos__": _unary("pos"), "__abs__": _unary("abs"), "__invert__": _unary("invert"),
    "__int__": _unary("int", _integer), "__index__": _unary("index", _integer), "__float__": _unary("float", _float),
    "__complex__": _unary("complex", _complex), "__round__": _unary("round"), "__trunc__": _unary("trunc"),
    "__floor__": _unary("floor"), "__ceil__": _unary("ceil"),
    "__enter__": _unary("enter"), "__exit__": _exit,
    "__array__": _array,
    "__divmod__": _binary("divmod"), "__rdivmod__": _binary("divmod", reflected=True),
    **{f"__{name.rstrip('_')}__": (_comparison(name) if name in ("eq", "ne", "lt", "le", "gt", "ge")
                                   else _binary(name)) for name in wire.BINARY_OPERATORS},
    **{f"__r{name.rstrip('_')}__": _binary(name, reflected=True) for name in wire.BINARY_OPERATORS[:13]},
}


# The course's own packages (an editable install keeps them in the course folder, beside no student file).
COURSE_PACKAGES = [os.path.dirname(os.path.abspath(__file__))]
try:
    COURSE_PACKAGES += list(importlib.util.find_spec("nnfs").submodule_search_locations or [])
except (ImportError, AttributeError, ValueError):
    pass


def trusted_module(name: str):
    """The grader's own import of a module the student imported, when it is an installed one (never a file of the
    submission's); None otherwise."""
    if not isinstance(name, str) or not MODULE_NAME.match(name) or name.split(".")[0] in NEVER_IMPORTED:
        return None
    if name in sys.modules:
        return sys.modules[name]
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None:
        return None
    roots = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, *COURSE_PACKAGES})
    places = [spec.origin] if spec.origin not in (None, "built-in", "frozen") else []
    places += list(spec.submodule_search_locations or [])
    if any(not os.path.realpath(place).startswith(roots) for place in places):
        return None
    try:
        return importlib.import_module(name)
    except Exception:
        return None


BUILTIN_TYPES = {cls.__name__: cls for cls in (
    types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.FunctionType, types.MethodType,
    types.BuiltinFunctionType, types.ModuleType, type({}.keys()), type({}.values()), type({}.items()),
    type(iter([])), type(iter(())), type(iter("")), type(iter(range(0))), type(iter({})), map, filter, zip,
    enumerate, reversed, memoryview, property, staticmethod, classmethod, slice)}


def library_class(module: str, qualname: str) -> type | None:
    """The grader's own class that a library object of the student's process reports (None for anything else)."""
    if module == "builtins":
        return BUILTIN_TYPES.get(qualname)
    if module.split(".")[0] == "numpy":
        return None  # a real array of numbers is always copied: a stand-in claiming to be one is not
    found = trusted_module(module)
    for part in qualname.split(".") if found is not None else []:
        if not IDENTIFIER.match(part):
            return None
        found = getattr(found, part, None)
    return found if isinstance(found, type) and not issubclass(found, BaseException) else None


def _signature(params) -> inspect.Signature | None:
    try:
        return inspect.Signature([
            inspect.Parameter(name, inspect._ParameterKind(kind),
                              default=(default if has_default else inspect.Parameter.empty))
            for name, kind, has_default, default in params])
    except (TypeError, ValueError):
        return None


class Remote:
    """The student's process as the test cells see it: stand-ins, and the shared state of one kernel.

    channel: the grader's end of the channel to the student's process (:class:`autograder.sandbox.wire.Channel`)
    request(verb, body): sends a request and returns the reply (raising when the process is lost)
    """

    def __init__(self, channel: wire.Channel, request):
        self.channel, self.request = channel, request
        self.stand_ins: dict[int, object] = {}  # the student's object number -> its stand-in
        self.classes: dict[int, type] = {}
        self.names: SharedNames | None = None  # of the test cell running now
        self.pending: list = []  # finished tests' changes to shared names, not yet sent
        self.random = SharedRandom()

    # Building stand-ins from the student's descriptions (untrusted: every field is checked).
    def make(self, channel: wire.Channel, ref: wire.Ref):
        known = self.stand_ins.get(ref.id)
        if known is not None:
            return known
        meta = ref.meta if isinstance(ref.meta, dict) else {}
        if isinstance(meta.get("import"), str):
            module = trusted_module(meta["import"])
            if module is not None:
                return module
        if ref.kind == "class" and isinstance(meta.get("cls"), dict):
            stand_in = self.stand_in_class(meta["cls"])
        elif ref.kind == "function":
            stand_in = self.stand_in_function(ref, meta)
        else:
            cls = self.stand_in_class(meta["cls"]) if isinstance(meta.get("cls"), dict) else \
                self.stand_in_class({"id": -1, "name": "object", "specials": []})
            try:
                stand_in = cls.__new__(cls)
            except Exception:  # a builtin base that cannot make an empty object: a plain stand-in then
                stand_in = object.__new__(self.stand_in_class({"id": -1, "name": "object", "specials": []}))
            object.__setattr__(stand_in, "_remote_session", self)
            object.__setattr__(stand_in, "_remote_ref", ref)
        self.stand_ins[ref.id] = stand_in
        if not isinstance(stand_in, type):
            self.channel.stand_ins[id(stand_in)] = (stand_in, ref)
        return stand_in

    def stand_in_class(self, info: dict, depth: int = 0) -> type:
        ident = info.get("id")
        if type(ident) is int and ident in self.classes:
            return self.classes[ident]
        name = info.get("name") if isinstance(info.get("name"), str) and IDENTIFIER.match(info["name"]) else "object"
        module = info.get("module") if isinstance(info.get("module"), str) else ""
        fields = info.get("fields")
        if isinstance(fields, list) and fields and all(isinstance(f, str) and IDENTIFIER.match(f) for f in fields):
            try:
                cls = wire.named_tuple_class(name, tuple(fields), module[:80])
                if type(ident) is int:
                    self.classes[ident] = cls
                return cls
            except (TypeError, ValueError):
                pass
        if module == "builtins" and name in EXCEPTIONS and name not in ("BaseException",):
            bases = [EXCEPTIONS[name]]  # the student's ValueError is caught by `except ValueError`
        else:
            bases = []
            for base in (info.get("bases") or [])[:6] if depth < 8 else []:
                if not isinstance(base, dict):
                    continue
                if base.get("module") == "builtins" and base.get("name") in EXCEPTIONS:
                    bases.append(EXCEPTIONS[base["name"]])
                elif base.get("module") != "builtins":
                    bases.append(self.stand_in_class(base, depth + 1))
        declared = [s for s in (info.get("specials") or []) if isinstance(s, str)]
        specials = [s for s in declared if s in SPECIAL_FORWARDERS]
        namespace = {name_: SPECIAL_FORWARDERS[name_] for name_ in specials}
        if "__bool__" in declared:  # never forwarded: see RemoteObject.__bool__
            namespace["_remote_defines_bool"] = True
        if info.get("unhashable") is True:
            namespace["__hash__"] = None
        elif "__eq__" in namespace and "__hash__" not in namespace:
            namespace["__hash__"] = RemoteObject.__hash__ if "__hash__" not in specials else namespace["__hash__"]
        qualname = info.get("qualname") if isinstance(info.get("qualname"), str) and info["qualname"] else name
        library = library_class(module, qualname) if module not in ("", "__main__") and not any(
            issubclass(base, BaseException) for base in bases) else None
        if library is not None:
            # isinstance(figure, matplotlib.figure.Figure) holds for a stand-in of a library's object, as it
            # reports that class (the stand-in's own type stays a stand-in).
            namespace["__class__"] = property(lambda self, cls=library: cls)
        namespace.update({"__module__": module or "__main__", "__qualname__": qualname[:200],
                          "__doc__": info.get("doc") if isinstance(info.get("doc"), str) else None,
                          "_remote_session": self, "_remote_ref": wire.Ref("student", ident if type(ident) is int
                                                                           else -1, "class", name)})
        if not any(issubclass(base, RemoteObject) for base in bases):
            bases.insert(0, RemoteObject)
        cls = None
        for attempt in (bases, [RemoteObject] + [b for b in bases if b in EXCEPTIONS.values()][:1], [RemoteObject]):
            try:
                cls = RemoteClass(name, tuple(dict.fromkeys(attempt)), dict(namespace))
                break
            except TypeError:  # bases that cannot be combined (an impossible layout or order)
                continue
        if type(ident) is int and ident >= 0:
            self.classes[ident] = cls
            self.channel.stand_ins[id(cls)] = (cls, wire.Ref("student", ident, "class", name))
        return cls

    def stand_in_function(self, ref: wire.Ref, meta: dict):
        remote, holder = self, []

        def forward(*args, **kwargs):
            return remote.op(holder[0], "call", *args, **kwargs)

        name = ref.name if IDENTIFIER.match(ref.name or "") else "function"
        qualname = meta.get("qualname") if isinstance(meta.get("qualname"), str) and meta["qualname"] else name
        filename = f"<submission {qualname[:80]} #{ref.id}>"
        source = meta.get("source")
        if isinstance(source, str) and source:
            # inspect.getsource finds the student's source by this file name (never a file on disk).
            lines = source.splitlines(True)
            linecache.cache[filename] = (len(source), None, lines, filename)
        code = forward.__code__.replace(co_name=name, co_filename=filename, co_firstlineno=1,
                                        co_qualname=qualname[:200])
        function = types.FunctionType(code, forward.__globals__, name, None, forward.__closure__)
        holder.append(function)
        function.__qualname__ = qualname[:200]
        function.__module__ = meta.get("module") if isinstance(meta.get("module"), str) and meta["module"] \
            else "__main__"
        function.__doc__ = meta.get("doc") or None if isinstance(meta.get("doc"), str) else None
        params = meta.get("params")
        if isinstance(params, list) and all(isinstance(p, list) and len(p) == 4 and isinstance(p[0], str)
                                            and type(p[1]) is int and 0 <= p[1] <= 4 for p in params):
            signature = _signature(params)
            if signature is not None:
                function.__signature__ = signature
        return function

    # One thing the test does with the student's objects.
    def op(self, target, name: str, *args, **kwargs):
        body = {"op": name, "target": target, "args": list(args), "kwargs": kwargs, "context": call_context(),
                "names": self.outgoing_names(),
                "rng": self.random.outgoing()}
        reply = self.request("op", body)
        if not isinstance(reply, dict):
            raise wire.WireError("malformed reply")
        self.take_shared_state(reply)
        _apply_changes(args, kwargs, reply.get("changed"))
        raised = reply.get("raised")
        if isinstance(raised, dict):
            raise self.student_exception(raised)
        if reply.get("stop") is True:
            raise StopIteration(reply.get("value"))
        return reply.get("value")

    def outgoing_names(self) -> list:
        """The tests' changes to shared names since the last request, oldest first (applied in this order)."""
        changes = self.pending + ([self.names.outgoing()] if self.names is not None else [])
        self.pending = []
        return [change for change in changes if change]

    def take_shared_state(self, reply: dict) -> None:
        """Apply what the student's code did to the state one kernel would share with the test."""
        for stream, text in (("stdout", reply.get("stdout")), ("stderr", reply.get("stderr"))):
            if isinstance(text, str) and text:
                getattr(sys, stream).write(text)
        if reply.get("rng") is not None:
            self.random.incoming(reply["rng"])
        if self.names is not None and isinstance(reply.get("names"), dict):
            self.names.incoming(reply["names"])

    def student_exception(self, raised: dict) -> BaseException:
        kind = str(raised.get("kind", "Error"))[:80]
        message = str(raised.get("message", ""))[:2000]
        if raised.get("limit") is True:
            return GraderLimit(
                f"the student's code used an object the test passed in ({kind}: {message}); of the test's own "
                "objects, only plain data is copied into the student's process, and only calls and attribute "
                "reads of the others reach the grader. Instructor: pass numbers, text, lists, dicts or arrays "
                "(or a function), or grade this part by hand.")
        trace = str(raised.get("traceback", ""))[:20000]
        error = raised.get("object")
        if isinstance(error, (StopIteration, StopAsyncIteration)) or kind in ("StopIteration", "StopAsyncIteration"):
            # Outside next(), a StopIteration would end whatever loop the test is in, silently: as a generator does
            # since PEP 479, it arrives as a RuntimeError naming it.
            return _builtin_error("RuntimeError", f"{kind} raised by the student's code: {message}", trace)
        if isinstance(error, RemoteObject) and isinstance(error, BaseException):
            object.__setattr__(error, "_remote_error", (kind, message, trace))
            BaseException.args.__set__(error, (message,))
            return error
        return _builtin_error(kind, message, trace)


class SharedRandom:
    """The global generators of ``random`` and NumPy, kept in step with the student's process, as one kernel has
    one of each: a test that seeds them before calling the student's function gets the same draws."""

    def __init__(self):
        self.synced: dict | None = None

    def outgoing(self) -> dict | None:
        now = wire.random_state()
        if self.synced is not None and wire.same_random_state(now, self.synced):
            return None
        self.synced = now
        return now

    def incoming(self, state) -> None:
        if wire.set_random_state(state):
            self.synced = wire.random_state()


class SharedNames:
    """The names one test cell shares with the student's namespace, kept in step both ways.

    namespace: the test's globals
    tracked: names that exist in the student's namespace and the test uses
    data_private: names whose plain-data values stay on the grader's side (bound by hidden tests)
    A name the student's code re-binds during a call changes for the test only while the test still holds the
    student's own value there: a name the test bound itself, a module or a function of the grader's is never
    replaced by the student's code.
    """

    def __init__(self, namespace: dict, tracked: set[str], data_private: set[str]):
        self.namespace, self.tracked, self.data_private = namespace, set(tracked), data_private
        self.seen = {name: namespace[name] for name in self.tracked if name in namespace}
        self.from_student = set(self.seen)

    def outgoing(self) -> dict | None:
        """The test's deletions and re-bindings of shared names since the last exchange."""
        changed, deleted = {}, []
        for name in sorted(self.tracked):
            if name not in self.namespace:
                if name in self.seen:
                    deleted.append(name)
                    del self.seen[name]
                    self.from_student.discard(name)
            elif name not in self.seen or self.namespace[name] is not self.seen[name]:
                value = self.seen[name] = self.namespace[name]
                self.from_student.discard(name)
                if name in self.data_private and not callable(value) and not isinstance(value, types.ModuleType):
                    continue  # a hidden test's data is never sent to the student's process
                changed[name] = value
        return {"set": changed, "deleted": deleted} if changed or deleted else None

    def incoming(self, changes: dict) -> None:
        """The student's code re-bound or deleted names the test shares."""
        for name in changes.get("deleted") or []:
            if self.students(name):
                self.namespace.pop(name, None)
                self.seen.pop(name, None)
        values = changes.get("set")
        for name, value in (values.items() if isinstance(values, dict) else []):
            if self.students(name) and not isinstance(value, types.ModuleType):
                self.namespace[name] = self.seen[name] = value

    def students(self, name) -> bool:
        return name in self.from_student and name in self.namespace and self.namespace[name] is self.seen.get(name)


def is_trusted(value, channel: wire.Channel) -> bool:
    """A module, or a function, class or object of the grader's own (not a stand-in for the student's)."""
    if isinstance(value, types.ModuleType):
        return True
    if isinstance(value, (RemoteObject, RemoteClass)) or channel.stand_ins.get(id(value), (None,))[0] is value:
        return False
    return callable(value)


def imported_names(sources: list[str]) -> dict[str, tuple[str, str | None]]:
    """name -> (module, attribute) for every name the student's cells bind with an import statement."""
    import ast
    names: dict[str, tuple[str, str | None]] = {}
    for source in sources:
        try:
            from .integrity import python_source
            tree = ast.parse(python_source(source))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = (alias.name, None)
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = (top, None)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def trusted_import(module: str, attribute: str | None):
    """What ``import module`` or ``from module import attribute`` gives the grader, for an installed module; a
    missing marker otherwise."""
    found = trusted_module(module)
    if found is None:
        return MISSING
    if attribute is None:
        return found
    if hasattr(found, attribute):
        return getattr(found, attribute)
    submodule = trusted_module(f"{module}.{attribute}")
    return submodule if submodule is not None else MISSING


MISSING = object()


def call_context() -> dict:
    """The test's warning filters and NumPy error handling, which the student's call must run under.

    A test that says ``warnings.simplefilter("error")`` around a call expects a warning in the student's code
    to fail it, as it would in one kernel. Only filters on builtin warning categories travel (plain data).
    """
    import warnings
    filters = [[action, category.__name__] for action, message, category, module, line in warnings.filters
               if message is None and module is None and not line and isinstance(category, type)
               and getattr(builtins, category.__name__, None) is category]
    return {"warnings": filters[:50], "errstate": dict(np.geterr())}


def _apply_changes(args: tuple, kwargs: dict, changed) -> None:
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


def raised_error(error: wire.RemoteError) -> StudentCodeError:
    """The exception a test sees when the student's process answered a request with an error."""
    return _builtin_error(error.kind, error.message, error.traceback)
