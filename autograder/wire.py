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

import json
import re
import select
import socket
import struct
import time

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


class Ref:
    """An object that lives on the other side; ``kind`` is "function" or "object", ``name`` is for messages."""

    __slots__ = ("owner", "id", "kind", "name")

    def __init__(self, owner: str, ident: int, kind: str, name: str):
        self.owner, self.id, self.kind, self.name = owner, ident, kind, name


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
    if kind is int:
        return value if abs(value) < 1 << 1000 else _ref_tree(export(value))
    if kind is float:
        return value
    if kind is complex:
        return ["C", value.real, value.imag]
    if kind is bytes:
        buffers.append(value)
        return ["B", len(buffers) - 1]
    if isinstance(value, np.ndarray) and _NUMERIC_DTYPE.match(value.dtype.str) and value.ndim <= MAX_DIMENSIONS:
        array = value if value.flags.c_contiguous else value.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
        buffers.append(array.tobytes())
        return ["A", array.dtype.str, list(array.shape), len(buffers) - 1]
    if isinstance(value, np.generic) and _NUMERIC_DTYPE.match(value.dtype.str):
        buffers.append(value.tobytes())
        return ["S", value.dtype.str, len(buffers) - 1]
    if isinstance(value, (list, tuple)):  # named tuples and other subclasses travel as plain sequences
        tag = "T" if isinstance(value, tuple) else "L"
        return [tag, [encode(item, export, buffers, depth + 1) for item in list(value)]]
    if isinstance(value, dict):
        return ["D", [[encode(k, export, buffers, depth + 1), encode(v, export, buffers, depth + 1)]
                      for k, v in list(dict.items(value))]]
    return _ref_tree(export(value))


def _ref_tree(ref: Ref) -> list:
    return ["R", ref.owner, ref.id, ref.kind, ref.name]


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
        if tag == "B":
            (index,) = rest
            return bytes(_buffer(buffers, index))
        if tag == "R":
            owner, ident, kind, name = rest
            if type(owner) is not str or type(ident) is not int or kind not in ("function", "object") \
                    or type(name) is not str:
                raise WireError("malformed reference")
            return resolve(Ref(owner, ident, kind, name[:80]))
    except ValueError:
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
    """The other side's code raised; ``kind`` is its exception type, ``message`` its first line(s)."""

    def __init__(self, kind: str, message: str, traceback: str = ""):
        self.kind, self.message, self.traceback = kind, message, traceback
        super().__init__(f"{kind}: {message}" if message else kind)


class Channel:
    """One end of the grader-student socket: requests with replies, nested in either direction.

    owner: "grader" or "student", the side this end is on
    make_proxy(channel, Ref): the local stand-in for an object of the other side
    handle(verb, body): answers the other side's requests; whatever it raises is sent back as a RemoteError
    """

    def __init__(self, sock: socket.socket, owner: str, make_proxy, handle):
        self.sock, self.owner, self.make_proxy, self.handle = sock, owner, make_proxy, handle
        self.objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}  # id(obj) -> handle, so one object keeps one handle
        self._next = 0
        self._requests = 0
        self.notes: list[dict] = []  # what the other side reported without being asked

    def export(self, value) -> Ref:
        if isinstance(value, Proxy) and value._channel is self:
            return value._ref
        handle = self._ids.get(id(value))
        if handle is None or self.objects.get(handle) is not value:
            self._next += 1
            handle = self._next
            self.objects[handle], self._ids[id(value)] = value, handle
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
                                  str(value.get("traceback", ""))[:20000])
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
            self.send({"kind": "reply", "to": ident, "ok": False}, describe_error(error))
        else:
            try:
                self.send({"kind": "reply", "to": ident, "ok": True}, result)
            except WireError as error:  # too large to send, say: the caller gets the reason instead
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
