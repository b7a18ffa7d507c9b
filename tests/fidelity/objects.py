"""fid_objects: tests that use what the student's code returns as Python objects.

Covers isinstance/issubclass with a student class, ``+``, ``len``, iteration, indexing, ``in``, attributes and
methods of student objects, a student generator driven by the test, a returned set and frozenset, integers of
2**1000 and more, a named tuple's fields, bytes, complex numbers, the student's own exception class caught with
``except``, and ``inspect.getsource`` of a student function. One test cell per kind.
"""

from .notebook import Assignment, Variant, answer, locked_code, locked_text, tests, text

CELLS = (
    locked_text("intro", """\
# Objects

Each part asks for a function or class; the test cell below it uses what it returns. 16 points."""),
    locked_code("setup", """\
import inspect
import types"""),

    text("## Part 1: A vector class (7 points)\n\n`Vector(*components)` supports `v + w`, `len(v)`, iteration, "
         "`v[i]`, `x in v`, `==`, the attribute `components` (a tuple) and the method `norm()`. `UnitVector` is a "
         "`Vector` scaled to norm 1."),
    answer("vector", """\
class Vector:
    \"\"\"A vector of numbers.\"\"\"
    ### BEGIN SOLUTION
    def __init__(self, *components):
        self.components = tuple(components)

    def __add__(self, other):
        return Vector(*(a + b for a, b in zip(self.components, other.components)))

    def __len__(self):
        return len(self.components)

    def __iter__(self):
        return iter(self.components)

    def __getitem__(self, index):
        return self.components[index]

    def __contains__(self, value):
        return value in self.components

    def __eq__(self, other):
        return isinstance(other, Vector) and self.components == other.components

    def __repr__(self):
        return f"Vector{self.components}"

    def norm(self):
        return sum(c * c for c in self.components) ** 0.5
    ### END SOLUTION


class UnitVector(Vector):
    \"\"\"The vector with the direction of the given components and norm 1.\"\"\"
    ### BEGIN SOLUTION
    def __init__(self, *components):
        length = Vector(*components).norm()
        super().__init__(*(c / length for c in components))
    ### END SOLUTION"""),
    tests("test_isinstance", 1, """\
\"\"\"Vector and UnitVector are classes; a UnitVector is a Vector.\"\"\"
assert isinstance(Vector(1, 2), Vector)
assert issubclass(UnitVector, Vector), "UnitVector should subclass Vector"
assert isinstance(UnitVector(3, 4), Vector)
assert not isinstance(Vector(1, 2), UnitVector)"""),
    tests("test_add", 1, '''\
"""v + w adds component by component and gives a Vector."""
total = Vector(1, 2) + Vector(10, 20)
assert isinstance(total, Vector)
assert total == Vector(11, 22), f"Vector(1, 2) + Vector(10, 20) gave {total!r}"'''),
    tests("test_len", 1, """\
\"\"\"len(v) is the number of components.\"\"\"
assert len(Vector(1, 2, 3)) == 3
assert len(Vector()) == 0"""),
    tests("test_iteration", 1, """\
\"\"\"Iterating over a vector gives its components in order.\"\"\"
assert [c for c in Vector(4, 5, 6)] == [4, 5, 6]
assert sum(Vector(1, 2, 3)) == 6
first, second = Vector(7, 8)
assert (first, second) == (7, 8)"""),
    tests("test_indexing", 1, """\
\"\"\"v[i] is component i, negative indices included.\"\"\"
v = Vector(7, 8, 9)
assert v[0] == 7 and v[2] == 9 and v[-1] == 9"""),
    tests("test_contains", 1, """\
\"\"\"x in v tells whether x is a component.\"\"\"
assert 8 in Vector(7, 8)
assert 3 not in Vector(7, 8)"""),
    tests("test_attributes_and_methods", 1, """\
\"\"\"components is a tuple attribute; norm() is the Euclidean norm.\"\"\"
v = Vector(3, 4)
assert v.components == (3, 4)
assert abs(v.norm() - 5.0) < 1e-12
unit = UnitVector(3, 4)
assert abs(unit.norm() - 1.0) < 1e-12
assert abs(unit.components[0] - 0.6) < 1e-12"""),

    text("## Part 2: A generator (1 point)\n\n`countdown(n)` **yields** `n, n - 1, ..., 1`."),
    answer("countdown", """\
def countdown(n):
    ### BEGIN SOLUTION
    while n > 0:
        yield n
        n -= 1
    ### END SOLUTION"""),
    tests("test_generator", 1, """\
\"\"\"countdown is a generator: the test takes one value, then the rest.\"\"\"
steps = countdown(3)
assert isinstance(steps, types.GeneratorType), "countdown should yield its values"
assert next(steps) == 3
assert list(steps) == [2, 1]
assert list(countdown(0)) == []"""),

    text("## Part 3: Sets (2 points)\n\n`letters(word)` returns the **set** of its lower-case letters; "
         "`vowels(word)` the **frozenset** of the vowels in it."),
    answer("sets", """\
### BEGIN SOLUTION
def letters(word):
    return set(word.lower())


def vowels(word):
    return frozenset(ch for ch in word.lower() if ch in "aeiou")
### END SOLUTION"""),
    tests("test_set", 1, """\
\"\"\"letters returns a set.\"\"\"
result = letters("Banana")
assert type(result) is set, f"letters should return a set, got {type(result).__name__}"
assert result == {"b", "a", "n"}"""),
    tests("test_frozenset", 1, """\
\"\"\"vowels returns a frozenset.\"\"\"
result = vowels("Education")
assert isinstance(result, frozenset), f"vowels should return a frozenset, got {type(result).__name__}"
assert result == frozenset("aeiou")
assert hash(result) == hash(frozenset("uoiea"))"""),

    text("## Part 4: Big integers (1 point)\n\n`power_of_two(k)` returns $2^k$ exactly; `digit_sum(n)` the sum "
         "of the decimal digits of `n`."),
    answer("big_integers", """\
### BEGIN SOLUTION
def power_of_two(k):
    return 2 ** k


def digit_sum(n):
    return sum(int(digit) for digit in str(n))
### END SOLUTION"""),
    tests("test_big_integers", 1, """\
\"\"\"Exact integers far beyond 64 bits.\"\"\"
assert power_of_two(1000) == 2**1000
assert power_of_two(5000) // power_of_two(4999) == 2
assert digit_sum(2**1000) == 1366
assert digit_sum(power_of_two(3000)) == sum(map(int, str(2**3000)))"""),

    text("## Part 5: A named tuple (1 point)\n\nDefine `Point`, a named tuple with fields `x` and `y`, and "
         "`midpoint(a, b)` returning the `Point` halfway between two points."),
    answer("point", """\
### BEGIN SOLUTION
from collections import namedtuple

Point = namedtuple("Point", ["x", "y"])


def midpoint(a, b):
    return Point((a.x + b.x) / 2, (a.y + b.y) / 2)
### END SOLUTION"""),
    tests("test_namedtuple", 1, """\
\"\"\"midpoint returns a Point whose fields are x and y.\"\"\"
middle = midpoint(Point(0, 0), Point(4, 2))
assert middle._fields == ("x", "y")
assert (middle.x, middle.y) == (2, 1)
assert middle == (2, 1)"""),

    text("## Part 6: Bytes (1 point)\n\n`encode(text)` returns the UTF-8 bytes of `text`."),
    answer("encode", """\
def encode(text):
    ### BEGIN SOLUTION
    return text.encode("utf-8")
    ### END SOLUTION"""),
    tests("test_bytes", 1, """\
\"\"\"encode returns bytes, multi-byte characters included.\"\"\"
data = encode("naïve")
assert isinstance(data, bytes)
assert data == b"na\\xc3\\xafve"
assert len(encode("é")) == 2"""),

    text("## Part 7: Complex roots (1 point)\n\n`quadratic_roots(a, b, c)` returns the two roots of "
         "$ax^2 + bx + c$ as complex numbers."),
    answer("quadratic_roots", """\
import cmath


def quadratic_roots(a, b, c):
    ### BEGIN SOLUTION
    root = cmath.sqrt(b * b - 4 * a * c)
    return (-b + root) / (2 * a), (-b - root) / (2 * a)
    ### END SOLUTION"""),
    tests("test_complex", 1, """\
\"\"\"Both roots, as complex numbers.\"\"\"
roots = sorted(quadratic_roots(1, 2, 5), key=lambda z: z.imag)
assert all(isinstance(z, complex) for z in roots)
assert abs(roots[0] - (-1 - 2j)) < 1e-12 and abs(roots[1] - (-1 + 2j)) < 1e-12"""),

    text("## Part 8: Your own exception (1 point)\n\nDefine `DepthError`, a kind of `ValueError`, and "
         "`check_depth(depth)`, which returns `depth` when it is at least 1 and raises `DepthError` otherwise."),
    answer("depth", """\
### BEGIN SOLUTION
class DepthError(ValueError):
    \"\"\"A network needs at least one layer.\"\"\"


def check_depth(depth):
    if depth < 1:
        raise DepthError(f"depth must be at least 1, got {depth}")
    return depth
### END SOLUTION"""),
    tests("test_own_exception", 1, """\
\"\"\"check_depth raises the student's DepthError, which the test catches by name.\"\"\"
assert issubclass(DepthError, ValueError)
assert check_depth(3) == 3
try:
    check_depth(0)
except DepthError:
    pass
else:
    raise AssertionError("check_depth(0) should raise DepthError")"""),

    text("## Part 9: Your own mean (1 point)\n\n`mean_of(values)` computes the mean **without** the `statistics` "
         "module or NumPy."),
    answer("mean_of", """\
def mean_of(values):
    ### BEGIN SOLUTION
    total = 0
    for value in values:
        total += value
    return total / len(values)
    ### END SOLUTION"""),
    tests("test_getsource", 1, """\
\"\"\"mean_of is computed by hand (the test reads its source).\"\"\"
source = inspect.getsource(mean_of)
assert source.lstrip().startswith("def mean_of")
assert "statistics" not in source and "np." not in source, "compute the mean yourself"
assert mean_of([1, 2, 3, 6]) == 3"""),
)

VARIANTS = (
    Variant("alternative", {
        "vector": """\
import math


class Vector:
    def __init__(self, *components):
        self._values = list(components)

    @property
    def components(self):
        return tuple(self._values)

    def __add__(self, other):
        return Vector(*map(lambda a, b: a + b, self, other))

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        yield from self._values

    def __getitem__(self, index):
        return self._values[index]

    def __eq__(self, other):
        return type(other) is type(self) and list(self) == list(other)

    def norm(self):
        return math.hypot(*self._values)


class UnitVector(Vector):
    def __init__(self, *components):
        length = math.hypot(*components)
        super().__init__(*[c / length for c in components])""",
        "countdown": """\
def countdown(n):
    yield from range(n, 0, -1)""",
        "sets": """\
def letters(word):
    return {ch.lower() for ch in word}


def vowels(word):
    return frozenset(filter(lambda ch: ch in "aeiou", word.lower()))""",
        "big_integers": """\
def power_of_two(k):
    return 1 << k


def digit_sum(n):
    total = 0
    while n:
        n, digit = divmod(n, 10)
        total += digit
    return total""",
        "point": """\
from typing import NamedTuple


class Point(NamedTuple):
    x: float
    y: float


def midpoint(a, b):
    return Point(x=(a.x + b.x) / 2, y=(a.y + b.y) / 2)""",
        "encode": """\
def encode(text):
    return bytes(text, "utf-8")""",
        "quadratic_roots": """\
def quadratic_roots(a, b, c):
    root = complex(b * b - 4 * a * c) ** 0.5
    return complex((-b + root) / (2 * a)), complex((-b - root) / (2 * a))""",
        "depth": """\
class DepthError(ValueError):
    def __init__(self, depth):
        super().__init__(f"a network needs at least one layer, not {depth}")
        self.depth = depth


def check_depth(depth):
    if not depth >= 1:
        raise DepthError(depth)
    return depth""",
        "mean_of": """\
def mean_of(values):
    count = 0
    running = 0.0
    for value in values:
        count += 1
        running += value
    return running / count""",
    }),
    Variant("partial", {
        "sets": """\
def letters(word):
    return set(word.lower())


def vowels(word):
    return {ch for ch in word.lower() if ch in "aeiou"}""",
        "point": """\
from collections import namedtuple

Point = namedtuple("Point", ["x", "y"])


def midpoint(a, b):
    return ((a.x + b.x) / 2, (a.y + b.y) / 2)""",
        "depth": """\
class DepthError(ValueError):
    pass


def check_depth(depth):
    if depth < 1:
        raise ValueError("depth must be at least 1")
    return depth""",
        "mean_of": """\
import statistics


def mean_of(values):
    return statistics.mean(values)""",
    }, loses=("test_frozenset", "test_namedtuple", "test_own_exception", "test_getsource")),
    # Other mistakes, failing most tests the partial variant passes.
    Variant("other_mistakes", {
        "vector": """\
class Vector:
    def __init__(self, *components):
        self.components = list(components)

    def __add__(self, other):
        return Vector(*(self.components + other.components))

    def __len__(self):
        return len(self.components)

    def __iter__(self):
        return reversed(self.components)

    def __getitem__(self, index):
        return self.components[index - 1]

    def __contains__(self, value):
        return 0 <= value < len(self.components)

    def __eq__(self, other):
        return self.components == other.components

    def norm(self):
        return sum(c * c for c in self.components) ** 0.5


class UnitVector:
    def __init__(self, *components):
        length = sum(c * c for c in components) ** 0.5
        self.components = [c / length for c in components]

    def norm(self):
        return sum(c * c for c in self.components) ** 0.5""",
        "countdown": """\
def countdown(n):
    return list(range(n, 0, -1))""",
        "sets": """\
def letters(word):
    return sorted(set(word.lower()))


def vowels(word):
    return frozenset(ch for ch in word.lower() if ch in "aeiou")""",
        "big_integers": """\
def power_of_two(k):
    return 2.0 ** k


def digit_sum(n):
    return sum(int(digit) for digit in str(n))""",
        "encode": """\
def encode(text):
    return str(text.encode("utf-8"))""",
        "quadratic_roots": """\
import math


def quadratic_roots(a, b, c):
    root = math.sqrt(b * b - 4 * a * c)
    return (-b + root) / (2 * a), (-b - root) / (2 * a)""",
    }, loses=("test_isinstance", "test_add", "test_iteration", "test_indexing", "test_contains",
              "test_attributes_and_methods", "test_generator", "test_set", "test_big_integers", "test_bytes",
              "test_complex")),
)

ASSIGNMENT = Assignment("fid_objects", "student objects: classes, operators, generators, sets, big integers, "
                        "named tuples, bytes, complex numbers, own exceptions, inspect.getsource",
                        CELLS, VARIANTS)
