"""Plain data across the sandbox boundary: a codec and a message channel that never unpickle.

The grader and a student's sandboxed process talk over one socket. Everything that crosses it is plain
data: None, booleans, numbers, strings, bytes, lists, tuples, dicts and NumPy arrays or scalars of numeric,
boolean or string dtype (checked against an allow-list, shape checked against the bytes received). Anything
else stays on its own side and crosses as a *reference* (``Ref``): the other side gets a proxy it may call,
never the object. A student function therefore cannot hand the grader an object whose ``__eq__`` always
says True, and the grader never runs student code.

A frame is ``!QI`` (total length, header length), a JSON header, then the raw bytes of every buffer the
header refers to by index. Frames larger than ``MAX_FRAME`` or deeper than ``MAX_DEPTH`` are refused.
"""

from __future__ import annotations

import collections
import decimal
import fractions
import json
import random
import re
import select
import socket
import struct
import time
import functools

import numpy as np

# Student code in the same process may replace builtins (len, isinstance, ...); this module keeps the originals.
globals().update({name: value for name, value in vars(__import__("builtins")).items() if not name.startswith("__")})

MAX_FRAME = 256 << 20
MAX_DEPTH = 48
MAX_DIMENSIONS = 32
_HEADER = struct.Struct("!QI")
_NUMERIC_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|U\d{1,6})$")


class WireError(Exception):
    """A frame or value that does not follow the protocol (malformed, too large, a forbidden type)."""


class ChannelClosed(WireError):
    """The other side closed the socket or its process ended."""


# Operators a test may apply to the other side's objects (names in the operator module), the special methods
# that make a stand-in support them, and the other special methods a stand-in forwards.
BINARY_OPERATORS = ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and_",
                    "or_", "xor", "iadd", "isub", "imul", "eq", "ne", "lt", "le", "gt", "ge")
SPECIAL_METHODS = tuple(
    f"__{name.rstrip('_')}__" for name in BINARY_OPERATORS) + tuple(
    f"__r{name.rstrip('_')}__" for name in BINARY_OPERATORS[:13]) + (
    "__call__", "__len__", "__iter__", "__next__", "__reversed__", "__getitem__", "__setitem__", "__delitem__",
    "__contains__", "__bool__", "__hash__", "__neg__", "__pos__", "__abs__", "__invert__", "__int__", "__float__",
    "__complex__", "__index__", "__round__", "__trunc__", "__floor__", "__ceil__", "__enter__", "__exit__",
    "__array__", "__divmod__", "__rdivmod__")
MAX_META = 64 << 10  # characters of a reference's description
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")


class Ref:
    """An object that lives on the other side.

    kind: "function", "class" or "object"; name: for messages
    meta: plain JSON describing it (a class's name, bases and special methods, a function's source), written by
        the side that owns the object, so never trusted by the other side beyond what it is checked to be
    """

    __slots__ = ("owner", "id", "kind", "name", "meta")

    def __init__(self, owner: str, ident: int, kind: str, name: str, meta: dict | None = None):
        self.owner, self.id, self.kind, self.name, self.meta = owner, ident, kind, name, meta


@functools.lru_cache(maxsize=512)
def named_tuple_class(name: str, fields: tuple, module: str) -> type:
    """One local named-tuple class per name, fields and module, so equal descriptions give the same class."""
    cls = collections.namedtuple(name, fields)
    cls.__module__ = module
    return cls


def _named_tuple_fields(value) -> list | None:
    fields = getattr(type(value), "_fields", None)
    if type(fields) is tuple and fields and all(type(f) is str and _IDENTIFIER.match(f) for f in fields) \
            and len(set(fields)) == len(fields) and len(fields) == tuple.__len__(value) \
            and _IDENTIFIER.match(type(value).__name__):
        return list(fields)
    return None


def _allowed_dtype(text) -> np.dtype:
    if not isinstance(text, str) or not _NUMERIC_DTYPE.match(text):
        raise WireError(f"array dtype {str(text)[:40]!r} is not allowed (only numbers, booleans and text)")
    dtype = np.dtype(text)
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"array dtype {text!r} is not allowed")
    return dtype


def encode(value, export, buffers: list, depth: int = 0):
    """A JSON-ready tree for ``value``; array bytes are appended to ``buffers``.

    export(obj) -> Ref: called for every value that is not plain data (it stays on this side)
    """
    if depth > MAX_DEPTH:
        return _ref_tree(export(value))
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:  # beyond 2**53 as hexadecimal text (exact, and free of the decimal digit limit)
        return value if abs(value) < 1 << 53 else ["I", format(value, "x")]
    if kind is float:
        return value
    if kind is complex:
        return ["C", value.real, value.imag]
    if kind in (bytes, bytearray):
        buffers.append(bytes(value))
        return ["B" if kind is bytes else "BA", len(buffers) - 1]
    if kind in (set, frozenset):
        return ["ST" if kind is set else "FS", [encode(item, export, buffers, depth + 1) for item in list(value)]]
    if kind is fractions.Fraction:
        return ["Q", encode(value.numerator, export, buffers), encode(value.denominator, export, buffers)]
    if kind is decimal.Decimal:
        return ["DE", str(value)]
    if kind is range:
        return ["RG", encode(value.start, export, buffers), encode(value.stop, export, buffers),
                encode(value.step, export, buffers)]
    # Kinds are judged by type(), never isinstance(): an object can claim any class through __class__.
    if issubclass(kind, np.ndarray) and _NUMERIC_DTYPE.match(value.dtype.str) and value.ndim <= MAX_DIMENSIONS:
        array = value if value.flags.c_contiguous else value.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        buffers.append(array.tobytes())
        return ["A", array.dtype.str, list(array.shape), len(buffers) - 1]
    if issubclass(kind, np.generic) and _NUMERIC_DTYPE.match(value.dtype.str):
        buffers.append(value.tobytes())
        return ["S", value.dtype.str, len(buffers) - 1]
    if issubclass(kind, tuple) and kind is not tuple and _named_tuple_fields(value):
        return ["NT", type(value).__name__, str(getattr(type(value), "__module__", "__main__"))[:80],
                _named_tuple_fields(value), [encode(item, export, buffers, depth + 1) for item in tuple(value)]]
    if issubclass(kind, (list, tuple)):  # other subclasses travel as plain sequences
        tag = "T" if issubclass(kind, tuple) else "L"
        return [tag, [encode(item, export, buffers, depth + 1) for item in list(value)]]
    if issubclass(kind, dict):
        return ["D", [[encode(k, export, buffers, depth + 1), encode(v, export, buffers, depth + 1)]
                      for k, v in list(dict.items(value))]]
    return _ref_tree(export(value))


def _ref_tree(ref: Ref) -> list:
    tree = ["R", ref.owner, ref.id, ref.kind, ref.name]
    return tree + [ref.meta] if ref.meta is not None else tree


def _check_meta(meta, depth: int = 0, budget: list | None = None) -> None:
    """A description is JSON made of dicts with text keys, lists, text, numbers, booleans and None, and small."""
    budget = budget if budget is not None else [MAX_META]
    if depth > 12:
        raise WireError("reference description nested too deeply")
    if type(meta) is dict:
        for key, value in meta.items():
            if type(key) is not str:
                raise WireError("malformed reference description")
            budget[0] -= len(key)
            _check_meta(value, depth + 1, budget)
    elif type(meta) is list:
        for value in meta:
            _check_meta(value, depth + 1, budget)
    elif type(meta) is str:
        budget[0] -= len(meta)
    elif meta is not None and type(meta) not in (bool, int, float):
        raise WireError("malformed reference description")
    if budget[0] < 0:
        raise WireError("reference description too large")


def decode(tree, buffers: list, resolve, depth: int = 0):
    """The value a tree describes; ``resolve(Ref)`` turns references into local objects or proxies."""
    if depth > MAX_DEPTH + 1:
        raise WireError("value nested too deeply")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is not list or not tree or type(tree[0]) is not str:
        raise WireError(f"malformed value ({type(tree).__name__})")
    tag, rest = tree[0], tree[1:]
    try:
        if tag in ("L", "T"):
            (items,) = rest
            if type(items) is not list:
                raise WireError("malformed sequence")
            values = [decode(item, buffers, resolve, depth + 1) for item in items]
            return values if tag == "L" else tuple(values)
        if tag == "D":
            (pairs,) = rest
            result = {}
            for pair in pairs:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("malformed dict")
                key = decode(pair[0], buffers, resolve, depth + 1)
                try:
                    result[key] = decode(pair[1], buffers, resolve, depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return result
        if tag == "A":
            dtype_text, shape, index = rest
            dtype = _allowed_dtype(dtype_text)
            if (type(shape) is not list or len(shape) > MAX_DIMENSIONS
                    or any(type(n) is not int or n < 0 for n in shape)):
                raise WireError("malformed array shape")
            data = _buffer(buffers, index)
            count = 1
            for n in shape:
                count *= n
            if count * dtype.itemsize != len(data):
                raise WireError("array shape does not match its bytes")
            array = np.frombuffer(data, dtype=dtype).reshape(shape)
            return array.astype(dtype.newbyteorder("="), copy=True)
        if tag == "S":
            dtype_text, index = rest
            dtype = _allowed_dtype(dtype_text)
            data = _buffer(buffers, index)
            if len(data) != dtype.itemsize:
                raise WireError("scalar size does not match its dtype")
            return np.frombuffer(data, dtype=dtype)[0].astype(dtype.newbyteorder("="))[()]
        if tag == "C":
            real, imag = rest
            if type(real) not in (int, float) or type(imag) not in (int, float):
                raise WireError("malformed complex number")
            return complex(real, imag)
        if tag in ("B", "BA"):
            (index,) = rest
            data = bytes(_buffer(buffers, index))
            return data if tag == "B" else bytearray(data)
        if tag == "I":
            (text,) = rest
            if type(text) is not str or not re.fullmatch(r"-?[0-9a-f]{1,100000}", text):
                raise WireError("malformed integer")
            return int(text, 16)
        if tag in ("ST", "FS"):
            (items,) = rest
            if type(items) is not list:
                raise WireError("malformed set")
            try:
                values = {decode(item, buffers, resolve, depth + 1) for item in items}
            except TypeError:
                raise WireError("unhashable set item") from None
            return values if tag == "ST" else frozenset(values)
        if tag == "Q":
            numerator, denominator = (decode(part, buffers, resolve, depth + 1) for part in rest)
            if type(numerator) is not int or type(denominator) is not int or denominator == 0:
                raise WireError("malformed fraction")
            return fractions.Fraction(numerator, denominator)
        if tag == "DE":
            (text,) = rest
            if type(text) is not str or len(text) > 10000:
                raise WireError("malformed decimal")
            return decimal.Decimal(text)
        if tag == "RG":
            start, stop, step = (decode(part, buffers, resolve, depth + 1) for part in rest)
            if not all(type(n) is int for n in (start, stop, step)) or step == 0:
                raise WireError("malformed range")
            return range(start, stop, step)
        if tag == "NT":
            name, module, fields, items = rest
            if type(name) is not str or not _IDENTIFIER.match(name) or type(module) is not str \
                    or type(fields) is not list or type(items) is not list or len(fields) != len(items) \
                    or not fields or not all(type(f) is str and _IDENTIFIER.match(f) for f in fields) \
                    or len(set(fields)) != len(fields):
                raise WireError("malformed named tuple")
            cls = named_tuple_class(name, tuple(fields), module[:80])
            return cls(*[decode(item, buffers, resolve, depth + 1) for item in items])
        if tag == "R":
            owner, ident, kind, name, *meta = rest
            if type(owner) is not str or type(ident) is not int or kind not in ("function", "object", "class") \
                    or type(name) is not str or len(meta) > 1 or (meta and type(meta[0]) is not dict):
                raise WireError("malformed reference")
            if meta:
                _check_meta(meta[0])
            return resolve(Ref(owner, ident, kind, name[:80], meta[0] if meta else None))
    except (ValueError, decimal.InvalidOperation):
        raise WireError(f"malformed value (tag {tag})") from None
    raise WireError(f"unknown value tag {tag[:10]!r}")


def _buffer(buffers: list, index) -> memoryview:
    if type(index) is not int or not 0 <= index < len(buffers):
        raise WireError("reference to a missing buffer")
    return buffers[index]


def pack(header: dict, buffers: list) -> bytes:
    """One frame: the header (with the buffer lengths) and the buffers."""
    header = dict(header, buffers=[len(b) for b in buffers])
    text = json.dumps(header, allow_nan=True, separators=(",", ":")).encode("utf-8")
    total = _HEADER.size + len(text) + sum(len(b) for b in buffers)
    if total > MAX_FRAME:
        raise WireError(f"message of {total} bytes is larger than the {MAX_FRAME} allowed")
    return b"".join([_HEADER.pack(total, len(text)), text, *buffers])


def _read_exactly(sock: socket.socket, count: int, deadline: float | None) -> memoryview:
    data = bytearray(count)
    view = memoryview(data)
    received = 0
    while received < count:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
                raise TimeoutError("no answer in time")
        chunk = sock.recv_into(view[received:], count - received)
        if chunk == 0:
            raise ChannelClosed("the other side closed the connection")
        received += chunk
    return view


def receive(sock: socket.socket, deadline: float | None = None) -> tuple[dict, list]:
    """Read one frame; raise WireError on anything malformed, TimeoutError past ``deadline`` (monotonic)."""
    total, header_length = _HEADER.unpack(_read_exactly(sock, _HEADER.size, deadline))
    if total > MAX_FRAME or header_length > total - _HEADER.size:
        raise WireError(f"frame of {total} bytes refused")
    body = _read_exactly(sock, total - _HEADER.size, deadline)
    try:
        header = json.loads(bytes(body[:header_length]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError):
        raise WireError("malformed message header") from None
    lengths = header.get("buffers") if isinstance(header, dict) else None
    if type(lengths) is not list or any(type(n) is not int or n < 0 for n in lengths) \
            or header_length + sum(lengths) != len(body):
        raise WireError("malformed message buffers")
    buffers, offset = [], header_length
    for n in lengths:
        buffers.append(body[offset:offset + n])
        offset += n
    return header, buffers


class Proxy:
    """Base of the local stand-ins for the other side's objects; sent back, a proxy becomes its reference again."""

    __slots__ = ("_channel", "_ref")

    def __init__(self, channel: "Channel", ref: Ref):
        self._channel, self._ref = channel, ref


class RemoteError(Exception):
    """The other side's code raised; ``kind`` is its exception type, ``message`` its first line(s).

    value: the exception object itself as the other side sent it (a stand-in for it), or None
    """

    def __init__(self, kind: str, message: str, traceback: str = "", value=None):
        self.kind, self.message, self.traceback, self.value = kind, message, traceback, value
        super().__init__(f"{kind}: {message}" if message else kind)


class Channel:
    """One end of the grader-student socket: requests with replies, nested in either direction.

    owner: "grader" or "student", the side this end is on
    make_proxy(channel, Ref): the local stand-in for an object of the other side
    handle(verb, body): answers the other side's requests; whatever it raises is sent back as a RemoteError
    """

    def __init__(self, sock: socket.socket, owner: str, make_proxy, handle, describe=None,
                 send_exceptions: bool = False):
        self.sock, self.owner, self.make_proxy, self.handle = sock, owner, make_proxy, handle
        self.describe = describe  # value -> (kind, name, meta) for the references this side hands out
        self.send_exceptions = send_exceptions  # errors carry the exception object (as a reference)
        self.stand_ins: dict[int, tuple] = {}  # id(local stand-in) -> (stand-in, Ref of the other side's object)
        self.objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> handle, so one object keeps one handle
        self._next = 0
        self._requests = 0
        self.notes: list[dict] = []  # what the other side reported without being asked

    def handle_of(self, value) -> int:
        """This side's number for one of its objects (kept alive while the channel lives)."""
        handle = self._ids.get(id(value))
        if handle is None or self.objects.get(handle) is not value:
            self._next += 1
            handle = self._next
            self.objects[handle], self._ids[id(value)] = value, handle
        return handle

    def export(self, value) -> Ref:
        if isinstance(value, Proxy) and value._channel is self:
            return value._ref
        stand_in = self.stand_ins.get(id(value))
        if stand_in is not None and stand_in[0] is value:
            return stand_in[1]
        handle = self.handle_of(value)
        if self.describe is not None:
            kind, name, meta = self.describe(value)
            return Ref(self.owner, handle, kind, name, meta)
        try:
            name = value.__name__ if isinstance(getattr(value, "__name__", None), str) else type(value).__name__
            kind = "function" if callable(value) else "object"
        except Exception:  # a student object whose attributes raise is still an object
            name, kind = "object", "object"
        return Ref(self.owner, handle, kind, name)

    def resolve(self, ref: Ref):
        if ref.owner != self.owner:
            return self.make_proxy(self, ref)
        if ref.id not in self.objects:
            raise WireError("reference to an unknown object")
        return self.objects[ref.id]

    def send(self, header: dict, body=None) -> None:
        buffers: list = []
        tree = encode(body, self.export, buffers)
        self.sock.sendall(pack(dict(header, body=tree), buffers))

    def note(self, kind: str, detail: str) -> None:
        self.send({"kind": "note"}, {"kind": kind, "detail": detail})

    def request(self, verb: str, body=None, deadline: float | None = None):
        """Send a request and return the reply's body, answering the other side's requests meanwhile."""
        self._requests += 1
        ident = self._requests
        self.send({"kind": "request", "id": ident, "verb": verb}, body)
        while True:
            header, buffers = receive(self.sock, deadline)
            kind = header.get("kind")
            value = decode(header.get("body"), buffers, self.resolve)
            if kind == "reply" and header.get("to") == ident:
                if header.get("ok") is True:
                    return value
                if not isinstance(value, dict):
                    raise WireError("malformed error reply")
                raise RemoteError(str(value.get("kind", "Error"))[:80], str(value.get("message", ""))[:2000],
                                  str(value.get("traceback", ""))[:20000], value.get("object"))
            if kind == "request":
                self.answer(header, value)
            elif kind == "note" and isinstance(value, dict):
                self.notes.append({"kind": str(value.get("kind"))[:80], "detail": str(value.get("detail"))[:500]})
            else:
                raise WireError(f"unexpected message {str(kind)[:20]!r}")

    def answer(self, header: dict, body) -> None:
        ident = header.get("id")
        try:
            result = self.handle(str(header.get("verb")), body)
        except BaseException as error:  # everything goes back to the caller, who decides
            if isinstance(error, (KeyboardInterrupt, SystemExit)) and self.owner == "grader":
                raise
            description = describe_error(error)
            if self.send_exceptions and isinstance(error, Exception):
                try:
                    self.send({"kind": "reply", "to": ident, "ok": False}, dict(description, object=error))
                    return
                except WireError:
                    pass
            self.send({"kind": "reply", "to": ident, "ok": False}, description)
        else:
            try:
                self.send({"kind": "reply", "to": ident, "ok": True}, result)
            except Exception as error:  # too large to send, or a value that broke while being read: say why
                self.send({"kind": "reply", "to": ident, "ok": False}, describe_error(error))

    def serve(self) -> None:
        """Answer requests until the other side closes the channel."""
        while True:
            try:
                header, buffers = receive(self.sock)
            except ChannelClosed:
                return
            if header.get("kind") != "request":
                raise WireError("expected a request")
            self.answer(header, decode(header.get("body"), buffers, self.resolve))


def describe_error(error: BaseException) -> dict:
    """Type and first lines of an exception (its traceback is added by the side that may show it)."""
    message = str(error).strip()
    return {"kind": type(error).__name__, "message": message[:2000],
            "traceback": getattr(error, "shown_traceback", "")}


# --- the global random generators: one kernel has one of each, so both sides keep them in step ---------------------

def random_state() -> dict:
    """A snapshot of the global generators of ``random`` and NumPy, as plain data that crosses the wire."""
    return {"py": random.getstate(), "np": np.random.get_state()}


def set_random_state(state) -> bool:
    """Restore a :func:`random_state` snapshot from the other side; False (nothing changed) if it is not one."""
    if not isinstance(state, dict):
        return False
    try:
        if "py" in state:
            random.setstate(state["py"])
        if "np" in state:
            np.random.set_state(state["np"])
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def same_random_state(first: dict, second: dict) -> bool:
    """Whether two :func:`random_state` snapshots are the same state (NumPy's holds an array)."""
    if first.get("py") != second.get("py") or ("np" in first) != ("np" in second):
        return False
    if "np" not in first:
        return True
    return first["np"][2:] == second["np"][2:] and np.array_equal(first["np"][1], second["np"][1])
