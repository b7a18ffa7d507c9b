"""The plain-data channel between the grader and a student's sandbox: what crosses, and what is refused."""

from __future__ import annotations

import json
import socket
import struct

import numpy as np
import pytest

from autograder.sandbox import wire


def local_ref(obj) -> wire.Ref:
    return wire.Ref("here", id(obj), "object", type(obj).__name__)


def round_trip(value, resolve=lambda ref: ref):
    buffers: list = []
    tree = wire.encode(value, local_ref, buffers)
    header = json.loads(json.dumps(tree))  # what the other side parses
    return wire.decode(header, [memoryview(b) for b in buffers], resolve)


def test_plain_data_keeps_its_types_and_values():
    value = {"a": [1, 2.5, None, True, "x", b"raw"], ("t", 1): (np.float64(0.5), np.int32(3)), 2: 1 + 2j,
             "arrays": [np.arange(6, dtype=np.int16).reshape(2, 3), np.array([np.nan, np.inf]), np.array(["ab", "c"]),
                        np.zeros((0, 4)), np.array(True)]}
    back = round_trip(value)
    assert back["a"] == [1, 2.5, None, True, "x", b"raw"]
    assert type(back[("t", 1)][0]) is np.float64 and back[("t", 1)] == (0.5, 3)
    assert back[2] == 1 + 2j
    first, specials, text, empty, flag = back["arrays"]
    assert first.dtype == np.int16 and first.shape == (2, 3) and first.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert np.isnan(specials[0]) and np.isinf(specials[1])
    assert text.tolist() == ["ab", "c"] and empty.shape == (0, 4) and flag.shape == () and bool(flag)
    assert first.flags.writeable  # a copy the receiver owns, not a view of the message


def test_anything_else_crosses_only_as_a_reference():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    seen = []
    back = round_trip([AlwaysEqual(), np.array([object()], dtype=object), len], resolve=lambda ref: seen.append(ref) or ref)
    assert all(isinstance(item, wire.Ref) for item in back) and len(seen) == 3
    assert [ref.name for ref in seen] == ["AlwaysEqual", "ndarray", "builtin_function_or_method"]


@pytest.mark.parametrize("tree, buffers, message", [
    (["A", "|O", [1], 0], [b"12345678"], "not allowed"),
    (["A", "<f8", [2], 0], [b"12345678"], "does not match"),
    (["A", "<f8", [-1], 0], [b""], "shape"),
    (["A", "<f8", [1], 3], [b"12345678"], "missing buffer"),
    (["A", "V8", [1], 0], [b"12345678"], "not allowed"),
    (["Z", 1], [], "unknown value tag"),
    ({"__reduce__": 1}, [], "malformed"),
    (["R", "there", "1", "function", "f"], [], "malformed reference"),
])
def test_malformed_or_forbidden_values_are_refused(tree, buffers, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode(tree, [memoryview(b) for b in buffers], lambda ref: ref)


def test_nesting_is_bounded():
    tree = 1
    for _ in range(wire.MAX_DEPTH + 5):
        tree = ["L", [tree]]
    with pytest.raises(wire.WireError, match="deeply"):
        wire.decode(tree, [], lambda ref: ref)


def test_frames_that_lie_about_their_size_are_refused():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack("!QI", wire.MAX_FRAME + 1, 10))
        with pytest.raises(wire.WireError, match="refused"):
            wire.receive(ours, deadline=None)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        header = json.dumps({"kind": "note", "buffers": [100]}).encode()
        theirs.sendall(struct.pack("!QI", 12 + len(header) + 4, len(header)) + header + b"abcd")
        with pytest.raises(wire.WireError, match="buffers"):
            wire.receive(ours, deadline=None)


def test_a_silent_peer_times_out_and_a_closed_one_is_reported():
    import time
    ours, theirs = socket.socketpair()
    with ours:
        with pytest.raises(TimeoutError):
            wire.receive(ours, deadline=time.monotonic() + 0.2)
        theirs.close()
        with pytest.raises(wire.ChannelClosed):
            wire.receive(ours, deadline=time.monotonic() + 2)


def test_calls_nest_in_both_directions_and_errors_come_back_by_type():
    """A grader-side call whose answer needs a callback to the caller, over a real socket pair, in one thread."""
    import threading

    left, right = socket.socketpair()

    class Proxy(wire.Proxy):
        def __call__(self, *args):
            return self._channel.request("call", {"target": self, "args": list(args)})

    def handle(verb, body):
        return body["target"](*body["args"])

    grader = wire.Channel(left, "grader", Proxy, handle)
    student = wire.Channel(right, "student", Proxy, handle)

    def student_function(callback, x):
        return callback(x) + 1

    def failing(x):
        raise ValueError("bad input")

    student_ref = student.export(student_function)
    failing_ref = student.export(failing)
    server = threading.Thread(target=student.serve, daemon=True)
    server.start()
    function = Proxy(grader, student_ref)
    assert grader.request("call", {"target": function, "args": [lambda v: v * 10, 4]}, deadline=None) == 41
    with pytest.raises(wire.RemoteError) as raised:
        grader.request("call", {"target": Proxy(grader, failing_ref), "args": [1]}, deadline=None)
    assert raised.value.kind == "ValueError" and raised.value.message == "bad input"
    left.close()
    server.join(5)
    assert not server.is_alive()
