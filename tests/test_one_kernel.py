"""Test cells see a student's work as one Jupyter kernel would, although they run in the grader's process.

One small instructor notebook (``ONE_KERNEL``, with a released data file) has a test cell per promise of
:mod:`autograder.remote`: deleting and re-binding a student's name, seeded global generators, printed text,
sets, big integers, named tuples, bytes and complex numbers, the student's classes and exceptions, operators on
their objects, generators, ``inspect``, a matplotlib figure, the submission's folder, ``NBGRADER_EXECUTION``, the
student's modules, and the messages of visible, hidden and student-raised assertion failures.

The solution is graded once and must pass every cell. A wrong submission, also graded once, fails every cell with
the message its test gives a student: each test is shown to fail, and messages follow the rules of
:mod:`autograder.feedback` (a visible assertion says what it expected and got, a hidden one only that it failed,
an assertion in the student's own code is theirs).
"""

from __future__ import annotations

import pytest

from autograder.runner import Limits
from fidelity.notebook import Assignment, Variant, answer, locked_code, locked_text
from fidelity.notebook import tests as autograded  # (as `tests`, pytest would collect it)
from in_process import assert_full_points, assert_no_problems_or_findings, by_grade_id, describe, release

LIMITS = Limits(cell_seconds=30, notebook_seconds=240)
DATA_FILES = {"data.csv": "epoch,loss\n1,0.9\n2,0.5\n3,0.25\n"}

# A student class with operators, shared by the solution and a wrong submission
VECTOR = '''\
class Vector:
    """A vector of numbers with +, scalar *, len, iteration, indexing and `in`."""

    def __init__(self, components):
        self.components = list(components)

    def __add__(self, other):
        return Vector(a + b for a, b in zip(self.components, other.components))

    def __mul__(self, factor):
        return Vector(factor * a for a in self.components)

    __rmul__ = __mul__

    def __eq__(self, other):
        return isinstance(other, Vector) and self.components == other.components

    def __len__(self):
        return len(self.components)

    def __iter__(self):
        return iter(self.components)

    def __getitem__(self, index):
        return self.components[index]

    def __contains__(self, value):
        return value in self.components

    def __repr__(self):
        return f"Vector({self.components})"

    def norm(self):
        return sum(a * a for a in self.components) ** 0.5'''

CELLS = (
    locked_text("intro", "# One kernel\n\nEach part below is one function; its test cell checks it."),
    locked_code("setup", '''\
import os
import random

import numpy as np'''),

    answer("names", '''\
### BEGIN SOLUTION
SCALE = 10


def squares(n):
    """The squares of 1, 2, ..., n, as a list."""
    return [i * i for i in range(1, n + 1)]


def sum_of_squares(n):
    """1 + 4 + ... + n**2, added up from what squares(n) returns."""
    return sum(squares(n))


def scaled(x):
    """x times SCALE, as SCALE is bound when scaled runs."""
    return SCALE * x
### END SOLUTION'''),
    autograded("test_delete_name", 1, '''\
"""sum_of_squares calls squares: without squares it cannot run; with squares back it adds up its values."""
saved = squares
del squares
try:
    sum_of_squares(3)
except NameError:
    pass
else:
    raise AssertionError("sum_of_squares should call squares, not repeat its work")
finally:
    squares = saved
assert sum_of_squares(3) == 14, "sum_of_squares(3) should be 1 + 4 + 9"'''),
    autograded("test_rebind_name", 1, '''\
"""scaled reads SCALE when it runs: a test that re-binds SCALE changes what scaled returns."""
saved = SCALE
SCALE = 3
try:
    assert scaled(2) == 6, "scaled(2) with SCALE = 3 should be 6"
finally:
    SCALE = saved
assert scaled(2) == 20, "scaled(2) should be 20"'''),

    answer("random_draws", '''\
### BEGIN SOLUTION
def noise(n):
    """n draws from NumPy's global generator."""
    return np.random.rand(n)


def coin_flips(n):
    """n fair coin flips (True for heads) from Python's random module."""
    return [random.random() < 0.5 for _ in range(n)]
### END SOLUTION'''),
    autograded("test_seeded_draws", 1, '''\
"""noise and coin_flips draw from the global generators, which the test seeds."""
np.random.seed(3)
drawn = noise(4)
np.random.seed(3)
assert np.allclose(drawn, np.random.rand(4)), "noise(4) should draw from np.random"
random.seed(7)
flips = coin_flips(6)
random.seed(7)
assert flips == [random.random() < 0.5 for _ in range(6)], "coin_flips(6) should draw from random"
np.random.seed(11)
first = noise(2)
after = np.random.rand(2)  # the generator goes on from where noise left it
np.random.seed(11)
assert np.allclose(np.concatenate([first, after]), np.random.rand(4)), "the draws should go on after noise(2)"'''),

    answer("printing", '''\
### BEGIN SOLUTION
def report(value):
    """Print the value, then return it."""
    print(f"value = {value}")
    return value
### END SOLUTION'''),
    autograded("test_printed_output", 1, '''\
"""report prints one line, which the test captures."""
import contextlib
import io

buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    returned = report(42)
assert returned == 42, "report(42) should return 42"
assert buffer.getvalue() == "value = 42\\n", "report(42) should print 'value = 42'"'''),

    answer("values", '''\
import math
from collections import namedtuple

### BEGIN SOLUTION
Point = namedtuple("Point", ["x", "y"])


def distinct(values):
    """The set of different values."""
    return set(values)


def frozen_distinct(values):
    """The different values, as a frozenset."""
    return frozenset(values)


def factorial(n):
    """n! exactly."""
    return math.factorial(n)


def midpoint(a, b):
    """The Point half-way between the Points a and b."""
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)


def encode(text):
    """text as UTF-8 bytes."""
    return text.encode("utf-8")


def square_roots(c):
    """The two complex square roots of the number c."""
    root = complex(c) ** 0.5
    return root, -root


def roots(coefficients):
    """coefficients: (K,) of a polynomial, highest power first; returns (K - 1,) complex array of its roots."""
    return np.roots(coefficients).astype(complex)
### END SOLUTION'''),
    autograded("test_sets", 1, '''\
"""distinct returns a set and frozen_distinct a frozenset."""
found = distinct([3, 1, 3, 2, 1])
assert type(found) is set, f"distinct should return a set, not {type(found).__name__}"
assert found == {1, 2, 3}, "distinct([3, 1, 3, 2, 1])"
frozen = frozen_distinct("abca")
assert type(frozen) is frozenset, f"frozen_distinct should return a frozenset, not {type(frozen).__name__}"
assert frozen == frozenset("abc"), "frozen_distinct('abca')"
assert {frozen: 1}[frozenset("cba")] == 1'''),
    autograded("test_big_integer", 1, '''\
"""factorial is exact for large n: Python integers have no size limit."""
import math

assert factorial(5) == 120, "factorial(5)"
big = factorial(60)
assert type(big) is int, f"factorial should return an int, not {type(big).__name__}"
assert big == math.prod(range(1, 61)), "factorial(60) should be exact"
assert big.bit_length() > 64'''),
    autograded("test_named_tuple", 1, '''\
"""midpoint returns a Point, the named tuple defined in the answer cell."""
middle = midpoint(Point(0, 0), Point(2, 4))
assert isinstance(middle, Point), f"midpoint should return a Point, not {type(middle).__name__}"
assert isinstance(middle, tuple)
assert Point._fields == middle._fields == ("x", "y")
assert (middle.x, middle.y) == (1.0, 2.0), "midpoint of (0, 0) and (2, 4)"
assert middle == Point(1.0, 2.0)'''),
    autograded("test_bytes_and_complex", 1, '''\
"""encode returns bytes; square_roots and roots return complex numbers."""
encoded = encode("h\\u00e9llo")
assert type(encoded) is bytes, f"encode should return bytes, not {type(encoded).__name__}"
assert encoded == b"h\\xc3\\xa9llo", "encode('h\\u00e9llo')"
first, second = square_roots(-4)
assert type(first) is complex, f"square_roots should return complex numbers, not {type(first).__name__}"
assert abs(first - 2j) < 1e-12 and abs(second + 2j) < 1e-12, "square_roots(-4) should be 2j and -2j"
found = roots([1, 0, 9])
assert isinstance(found, np.ndarray) and found.dtype.kind == "c", "roots([1, 0, 9]) should be a complex array"
assert np.allclose(sorted(found, key=lambda z: z.imag), [-3j, 3j])'''),

    answer("classes", '''\
### BEGIN SOLUTION
class InvalidSize(ValueError):
    """A width or height that is not positive."""


class Shape:
    def area(self):
        raise NotImplementedError


class Rectangle(Shape):
    def __init__(self, width, height):
        if width <= 0 or height <= 0:
            raise InvalidSize(f"sizes must be positive, got {width} x {height}")
        self.width, self.height = width, height

    def area(self):
        return self.width * self.height
### END SOLUTION'''),
    autograded("test_classes", 1, '''\
"""Rectangle is a Shape; a size that is not positive raises InvalidSize, which is a ValueError."""
rectangle = Rectangle(2, 3)
assert isinstance(rectangle, Rectangle) and isinstance(rectangle, Shape), "Rectangle should derive from Shape"
assert issubclass(Rectangle, Shape) and type(rectangle) is Rectangle
assert rectangle.area() == 6, "Rectangle(2, 3).area()"
assert issubclass(InvalidSize, ValueError), "InvalidSize should derive from ValueError"
for width, height in [(0, 1), (2, -1)]:
    try:
        Rectangle(width, height)
    except InvalidSize as error:
        assert isinstance(error, ValueError) and "positive" in str(error)
    else:
        raise AssertionError(f"Rectangle({width}, {height}) should raise InvalidSize")
try:
    Rectangle(-1, -1)
except ValueError:
    pass'''),

    answer("vectors", f"### BEGIN SOLUTION\n{VECTOR}\n### END SOLUTION"),
    autograded("test_operators", 1, '''\
"""Vector supports +, scalar *, len, iteration, indexing, `in`, its attribute and its norm method."""
v, w = Vector([1, 2, 2]), Vector([0, 1, 0])
assert len(v) == 3 and bool(v)
assert list(v) == [1, 2, 2]
assert v[1] == 2 and v[-1] == 2
assert 2 in v and 5 not in v
assert v.components == [1, 2, 2]
assert v + w == Vector([1, 3, 2]), "Vector([1, 2, 2]) + Vector([0, 1, 0])"
assert list(2 * v) == [2, 4, 4] and list(v * 2) == [2, 4, 4]
assert v.norm() == 3.0'''),

    answer("generators", '''\
### BEGIN SOLUTION
def countdown(n):
    """Yield n, n - 1, ..., 1."""
    while n > 0:
        yield n
        n -= 1
### END SOLUTION'''),
    autograded("test_generator", 1, '''\
"""countdown is a generator: it can be listed, summed, looped over and stepped with next."""
assert list(countdown(3)) == [3, 2, 1], "list(countdown(3))"
assert sum(countdown(4)) == 10
steps = countdown(2)
assert next(steps) == 2 and next(steps) == 1
assert next(steps, "done") == "done"
seen = []
for value in countdown(3):
    seen.append(value)
assert seen == [3, 2, 1]'''),

    answer("signature", '''\
### BEGIN SOLUTION
def moving_average(values, window=3):
    """values: (N,) array; returns (N - window + 1,) array, the mean of each run of `window` values."""
    return np.convolve(values, np.ones(window) / window, mode="valid")
### END SOLUTION'''),
    autograded("test_source_and_signature", 1, '''\
"""moving_average keeps its signature (window defaults to 3) and is written with NumPy."""
import inspect

parameters = inspect.signature(moving_average).parameters
assert list(parameters) == ["values", "window"], "moving_average's parameters"
assert parameters["window"].default == 3, "window should default to 3"
source = inspect.getsource(moving_average)
assert source.startswith("def moving_average(values, window="), source
assert "np.convolve" in source or "np.mean" in source, "moving_average should use NumPy"
assert np.allclose(moving_average(np.arange(5.0)), [1.0, 2.0, 3.0])'''),

    answer("figure", '''\
import matplotlib.pyplot as plt

### BEGIN SOLUTION
def plot_losses(losses):
    """A figure with one line: the loss after each epoch, from epoch 1."""
    figure, axes = plt.subplots()
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set_title("Training loss")
    axes.set_xlabel("epoch")
    return figure
### END SOLUTION'''),
    autograded("test_figure", 1, '''\
"""plot_losses returns a figure whose axes have the title, label and line asked for."""
figure = plot_losses([0.9, 0.5, 0.25])
axes = figure.axes[0]
assert axes.get_title() == "Training loss", "the title"
assert axes.get_xlabel() == "epoch", "the label of the x axis"
assert len(axes.lines) == 1
assert list(axes.lines[0].get_ydata()) == [0.9, 0.5, 0.25]
assert list(axes.lines[0].get_xdata()) == [1, 2, 3]'''),

    answer("files", '''\
import csv

### BEGIN SOLUTION
def read_column(path, name):
    """The values of column `name` of the CSV file at `path`, as floats."""
    with open(path, newline="") as handle:
        return [float(row[name]) for row in csv.DictReader(handle)]


def save_report(values, path):
    """Write `lowest: <the lowest value>` to the file at `path`."""
    with open(path, "w") as handle:
        handle.write(f"lowest: {min(values)}\\n")
### END SOLUTION'''),
    autograded("test_files", 1, '''\
"""read_column reads the released data.csv; save_report writes a file that the test reads back."""
import pathlib

assert os.path.exists("data.csv"), "data.csv is released with the assignment"
assert pathlib.Path("data.csv").read_text().startswith("epoch,loss\\n")
losses = read_column("data.csv", "loss")
assert losses == [0.9, 0.5, 0.25], "read_column('data.csv', 'loss')"
save_report(losses, "report.txt")
with open("report.txt") as handle:
    written = handle.read()
assert written == pathlib.Path("report.txt").read_text()
assert written == "lowest: 0.25\\n", "report.txt should hold the lowest loss"'''),

    answer("environment", '''\
### BEGIN SOLUTION
def where_am_i():
    """'autograde' while the grader runs this notebook, 'jupyter' otherwise."""
    return "autograde" if os.environ.get("NBGRADER_EXECUTION") == "autograde" else "jupyter"
### END SOLUTION'''),
    autograded("test_environment", 1, '''\
"""Tests run with NBGRADER_EXECUTION=autograde, and so does the student's code."""
assert os.environ.get("NBGRADER_EXECUTION") == "autograde"
assert where_am_i() == "autograde", "where_am_i() while grading"'''),

    answer("modules", '''\
### BEGIN SOLUTION
import statistics


def median_of(values):
    """The median of a list of numbers."""
    return statistics.median(values)
### END SOLUTION'''),
    autograded("test_student_modules", 1, '''\
"""statistics, imported in the answer cell, is the module the test sees too."""
import sys

assert statistics is sys.modules["statistics"], "statistics should be the statistics module"
assert median_of([3, 1, 2]) == statistics.median([3, 1, 2]) == 2'''),

    answer("clip", '''\
### BEGIN SOLUTION
def clip(x, low, high):
    """x, moved into [low, high]."""
    return min(max(x, low), high)
### END SOLUTION'''),
    autograded("test_visible_message", 1, '''\
"""clip never returns more than high."""
assert clip(5, 0, 3) == 3, "clip(5, 0, 3) should be the upper bound"
### BEGIN HIDDEN TESTS
assert clip(11.5, -2, 7.75) == 7.75
### END HIDDEN TESTS'''),
    autograded("test_hidden_message", 1, '''\
"""clip leaves a value inside [low, high] alone and moves any other to the nearest bound."""
assert clip(1, 0, 3) == 1, "clip(1, 0, 3) should be 1"
### BEGIN HIDDEN TESTS
assert clip(17.25, -3, 4.5) == 4.5
### END HIDDEN TESTS'''),

    answer("own_assertion", '''\
### BEGIN SOLUTION
def checked_mean(values):
    """The mean of a non-empty list of numbers."""
    assert len(values) > 0, "checked_mean needs at least one value"
    return sum(values) / len(values)
### END SOLUTION'''),
    autograded("test_student_assertion", 1, '''\
"""checked_mean averages lists of any length."""
assert checked_mean([2, 4]) == 3, "checked_mean([2, 4]) should be 3"
### BEGIN HIDDEN TESTS
assert checked_mean([1, 2, 3, 4, 5, 6]) == 3.5
### END HIDDEN TESTS'''),
)

# One plausible mistake per part; each test cell must fail on it with this message (what the student is shown).
WRONG_ANSWERS = {
    "names": '''\
SCALE = 10


def squares(n):
    return [i * i for i in range(n)]  # off by one: 0, 1, ..., (n - 1) ** 2


def sum_of_squares(n):
    return sum(squares(n))


def scaled(x):
    return 10 * x  # ignores SCALE''',
    "random_draws": '''\
def noise(n):
    return np.random.default_rng().random(n)  # a fresh generator that no seed reaches


def coin_flips(n):
    return [random.random() < 0.5 for _ in range(n)]''',
    "printing": '''\
def report(value):
    print("value:", value)
    return value''',
    "values": '''\
import math
from collections import namedtuple

Point = namedtuple("Point", ["x", "y"])


def distinct(values):
    return list(dict.fromkeys(values))


def frozen_distinct(values):
    return frozenset(values)


def factorial(n):
    return int(math.gamma(n + 1))  # a float underneath: inexact beyond 2**53


def midpoint(a, b):
    return ((a.x + b.x) / 2, (a.y + b.y) / 2)


def encode(text):
    return text


def square_roots(c):
    root = complex(c) ** 0.5
    return root, -root


def roots(coefficients):
    return np.roots(coefficients)''',
    "classes": '''\
class InvalidSize(Exception):
    pass


class Shape:
    def area(self):
        raise NotImplementedError


class Rectangle(Shape):
    def __init__(self, width, height):
        if width <= 0 or height <= 0:
            raise InvalidSize("sizes must be positive")
        self.width, self.height = width, height

    def area(self):
        return self.width * self.height''',
    "vectors": VECTOR.replace("Vector(a + b", "Vector(a - b"),  # adds by subtracting
    "generators": '''\
def countdown(n):
    while n >= 0:
        yield n
        n -= 1''',
    "signature": '''\
def moving_average(values, window=2):
    return np.convolve(values, np.ones(window) / window, mode="valid")''',
    "figure": '''\
import matplotlib.pyplot as plt


def plot_losses(losses):
    figure, axes = plt.subplots()
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set_title("Loss")
    axes.set_xlabel("epoch")
    return figure''',
    "files": '''\
import csv


def read_column(path, name):
    with open(path, newline="") as handle:
        return [float(row[name]) for row in csv.DictReader(handle)]


def save_report(values, path):
    with open(path, "w") as handle:
        handle.write(f"lowest: {max(values)}\\n")''',
    "environment": '''\
def where_am_i():
    return "jupyter"''',
    "modules": '''\
def median_of(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]''',
    "clip": '''\
def clip(x, low, high):
    return max(x, low)  # forgets the upper bound''',
    "own_assertion": '''\
def checked_mean(values):
    assert len(values) <= 4, "this version handles at most four values"
    return sum(values) / len(values)''',
}

WRONG_MESSAGES = {
    "test_delete_name": "AssertionError: sum_of_squares(3) should be 1 + 4 + 9 (expected 14, got 5)",
    "test_rebind_name": "AssertionError: scaled(2) with SCALE = 3 should be 6 (expected 6, got 20)",
    "test_seeded_draws": "AssertionError: noise(4) should draw from np.random",
    "test_printed_output": "AssertionError: report(42) should print 'value = 42' "
                           "(expected 'value = 42\\n', got 'value: 42\\n')",
    "test_sets": "AssertionError: distinct should return a set, not list "
                 "(<class 'list'> is <class 'set'> is false)",
    "test_big_integer": "AssertionError: factorial(60) should be exact "
                        "(expected 8320987112741390144276341183223364380754172606361245952449277696409600000000000000, "
                        "got 8320987112741391580056396102959641077457945541076708813599085350531187384917164032)",
    "test_named_tuple": "AssertionError: midpoint should return a Point, not tuple",
    "test_bytes_and_complex": "AssertionError: encode should return bytes, not str "
                              "(<class 'str'> is <class 'bytes'> is false)",
    "test_classes": "AssertionError: InvalidSize should derive from ValueError",
    "test_operators": "AssertionError: Vector([1, 2, 2]) + Vector([0, 1, 0]) "
                      "(expected Vector([1, 3, 2]), got Vector([1, 1, 2]))",
    "test_generator": "AssertionError: list(countdown(3)) (expected [3, 2, 1], got [3, 2, 1, 0])",
    "test_source_and_signature": "AssertionError: window should default to 3 (expected 3, got 2)",
    "test_figure": "AssertionError: the title (expected 'Training loss', got 'Loss')",
    "test_files": "AssertionError: report.txt should hold the lowest loss "
                  "(expected 'lowest: 0.25\\n', got 'lowest: 0.9\\n')",
    "test_environment": "AssertionError: where_am_i() while grading (expected 'autograde', got 'jupyter')",
    "test_student_modules": "NameError: name 'statistics' is not defined",
    # A visible assertion in a cell with hidden tests: its message, with what it expected and got.
    "test_visible_message": "AssertionError: clip(5, 0, 3) should be the upper bound (expected 3, got 5)",
    # A hidden assertion: only that it failed, never its values.
    "test_hidden_message": "AssertionError: a hidden test failed.",
    # The student's own assertion, raised while a hidden test called their code: theirs, with their message.
    "test_student_assertion": "AssertionError raised by your code: this version handles at most four values",
}

ONE_KERNEL = Assignment(
    name="one_kernel",
    covers="what a test cell can do with the student's names, objects, generators, files and printed text",
    cells=CELLS,
    variants=(Variant("wrong", WRONG_ANSWERS, tuple(WRONG_MESSAGES)),),
)
TESTS = sorted(ONE_KERNEL.autograded_cells)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The solution and the wrong submission, each graded once: student name -> SubmissionResult."""
    course = tmp_path_factory.mktemp("one_kernel")
    assignment = release(ONE_KERNEL, course, DATA_FILES)
    return assignment.grade_all(["solution", "wrong"], course / "submitted", LIMITS)


def test_every_cell_has_a_wrong_answer_to_fail_on():
    assert set(WRONG_MESSAGES) == set(TESTS)


@pytest.mark.parametrize("grade_id", TESTS)
def test_the_solution_passes(graded, grade_id):
    assert_full_points(graded["solution"], grade_id)


def test_the_solution_is_graded_without_problems_or_findings(graded):
    result = graded["solution"]
    assert_no_problems_or_findings(result)
    assert result.score == result.max_score == len(TESTS)


@pytest.mark.parametrize("grade_id", TESTS)
def test_a_wrong_answer_fails_with_the_message_a_student_sees(graded, grade_id):
    test = by_grade_id(graded["wrong"])[grade_id]
    assert (test.status, test.score) == ("failed", 0.0), describe(test)
    assert test.message == WRONG_MESSAGES[grade_id], describe(test)


def test_a_hidden_failure_shows_none_of_its_values(graded):
    test = by_grade_id(graded["wrong"])["test_hidden_message"]
    for value in ("17.25", "4.5", "-3"):
        assert value not in test.message, describe(test)
