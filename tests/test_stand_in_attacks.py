"""Hostile submissions against the stand-ins: test cells run in the grader's process and use the student's work
through :mod:`autograder.remote`; nothing the student's code does there may earn a point.

One instructor notebook has a part per target: an answer cell and the test cells an instructor would write for it
(``PARTS``). The honest solution, graded once, earns every test: each attack's control. Each attacker (``ATTACKS``)
answers one part with hostile code and every other part honestly, and is graded once: each test of the attacked
part must score 0, failing with the message that shows the attack was seen through (not merely unlucky), and every
other part keeps its points, so the attack did not reach the tests that came after it.

The attacks: values that claim equality (``__eq__``/``__ne__``), truth (``__bool__``), a length (``__len__``) or to
be a NumPy array (``__class__``, ``__getattr__``); builtins shadowed in the student's namespace; the test's names,
the instructor's helpers and ``np`` re-bound from inside a call; fake NumPy modules; a hidden test's data read
through ``globals()``; a link out of the submission's folder that a test opens; the global random state set from a
call; student exceptions deriving from AssertionError and StopIteration; a generator that never ends; a huge
``__repr__``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from autograder.runner import Limits
from fidelity.notebook import Assignment, Variant, answer, locked_code, locked_text
from fidelity.notebook import tests as autograded  # (as `tests`, pytest would collect it)
from in_process import assert_full_points, assert_no_problems_or_findings, by_grade_id, describe, release

# Short enough that the endless generator costs little, long enough for an honest cell on a busy machine.
LIMITS = Limits(cell_seconds=8, notebook_seconds=180)
# Stands for the path of the instructor's notebook (known once it is written) in the link attack.
SOURCE_NOTEBOOK = "<the instructor's notebook>"


@dataclass(frozen=True)
class Part:
    honest: str  # the solution's answer cell (between solution markers)
    tests: dict[str, str]  # grade id -> test cell


@dataclass(frozen=True)
class Attack:
    part: str  # the part it answers with hostile code
    answer: str  # that answer cell
    fails: dict[str, str]  # grade id of each test of the part -> a fragment of the message it must fail with
    statuses: tuple[str, ...] = ("failed",)  # how those tests may end


SETUP = '''\
import random

from autograder.checks import assert_close


def reference_scale(values, factor):
    """The instructor's own scaling, for comparison."""
    return [factor * value for value in values]'''

PARTS = {
    "pairs": Part('''\
def pairs(n):
    """[(0, 0), (1, 1), (2, 4), ...]: each i below n with its square."""
    return [(i, i * i) for i in range(n)]''', {
        "test_pairs_equal": '''\
"""pairs(n) lists each i below n with its square."""
assert pairs(3) == [(0, 0), (1, 1), (2, 4)], "pairs(3)"''',
        "test_pairs_equal_reflected": '''\
"""pairs(2), compared from the other side."""
assert [(0, 0), (1, 1)] == pairs(2), "pairs(2)"''',
        "test_pairs_not_equal": '''\
"""pairs(4), compared with !=."""
assert not (pairs(4) != [(0, 0), (1, 1), (2, 4), (3, 9)]), "pairs(4)"''',
        "test_pairs_in": '''\
"""pairs(1) is one of the accepted answers."""
assert pairs(1) in [[(0, 0)], [(0, 0.0)]], "pairs(1)"'''}),

    "is_sorted": Part('''\
def is_sorted(values):
    """True when the values never decrease."""
    return all(a <= b for a, b in zip(values, values[1:]))''', {
        "test_is_sorted": '''\
"""is_sorted is true for lists that never decrease."""
assert is_sorted([1, 2, 2, 5]), "[1, 2, 2, 5] is sorted"
assert is_sorted([7]), "a list of one value is sorted"'''}),

    "unique_words": Part('''\
def unique_words(text):
    """The different words of text, sorted."""
    return sorted(set(text.split()))''', {
        "test_unique_words": '''\
"""unique_words lists each word of the text once."""
words = unique_words("b a b c a")
assert len(words) == 3, "unique_words('b a b c a') should have three words"
assert sorted(words) == ["a", "b", "c"], "unique_words('b a b c a')"'''}),

    "count_positive": Part('''\
def count_positive(values):
    """How many of the values are above zero."""
    return sum(1 for value in values if value > 0)''', {
        "test_count_positive": '''\
"""count_positive counts the values above zero."""
count = count_positive([3, -1, 2, 0])
assert isinstance(count, int), "count_positive should return an int"
assert abs(count - 2) < 0.5, "count_positive([3, -1, 2, 0]) should be 2"
assert all(count_positive([x]) == 1 for x in [1, 5, 0.5]), "a list of one positive value has one"'''}),

    "scale": Part('''\
def scale(values, factor):
    """values: (N,) numbers; returns (N,) array, each value times factor."""
    return np.asarray(values, dtype=float) * factor''', {
        "test_scale_expected": '''\
"""scale multiplies every value by the factor (compared with a value the test computed first)."""
expected = [2.0, 4.0, 6.0]
assert list(scale([1.0, 2.0, 3.0], 2.0)) == expected, "scale([1, 2, 3], 2)"''',
        "test_scale_assert_close": '''\
"""scale multiplies every value by the factor (checked with assert_close)."""
result = scale([1.0, 2.0, 3.0], 2.0)
assert_close(result, [2.0, 4.0, 6.0], name="scale([1, 2, 3], 2)")''',
        "test_scale_np": '''\
"""scale multiplies every value by the factor (checked with np.allclose)."""
result = scale([1.0, 2.0, 3.0], 2.0)
assert np.allclose(result, [2.0, 4.0, 6.0]), "scale([1, 2, 3], 2) with np.allclose"''',
        "test_scale_helper": '''\
"""scale agrees with the instructor's reference_scale."""
result = scale([0.5, 1.5], 4.0)
assert list(result) == reference_scale([0.5, 1.5], 4.0), "scale([0.5, 1.5], 4)"'''}),

    "normalise": Part('''\
def normalise(vector):
    """vector: (D,) array; returns (D,) array of length one, in the same direction."""
    return vector / np.linalg.norm(vector)''', {
        "test_normalise": '''\
"""normalise returns a vector of length one in the same direction."""
assert np.allclose(normalise(np.array([3.0, 4.0])), [0.6, 0.8]), "normalise([3, 4]) should be [0.6, 0.8]"'''}),

    "mean_of": Part('''\
import numpy


def mean_of(values):
    """The mean of a list of numbers, as a float."""
    return float(numpy.mean(values))''', {
        "test_mean_of": '''\
"""mean_of returns the mean."""
assert numpy.isclose(mean_of([1.0, 2.0, 6.0]), 3.0), "mean_of([1, 2, 6]) should be 3"'''}),

    "classify": Part('''\
def classify(x):
    """1 for x above one half, 0 otherwise."""
    return int(x > 0.5)''', {
        "test_classify": '''\
"""classify(x) is 1 for x above one half, 0 otherwise."""
assert classify(0.9) == 1, "classify(0.9) should be 1"
### BEGIN HIDDEN TESTS
hidden_inputs = [0.2, 0.45, 0.55, 0.8]
hidden_labels = [0, 0, 1, 1]
assert [classify(x) for x in hidden_inputs] == hidden_labels
### END HIDDEN TESTS'''}),

    "save_summary": Part('''\
def save_summary(values):
    """Write `mean=<the mean of the values>` to summary.txt."""
    with open("summary.txt", "w") as handle:
        handle.write(f"mean={sum(values) / len(values)}\\n")''', {
        "test_save_summary": '''\
"""save_summary writes the mean of the values to summary.txt."""
import pathlib

save_summary([1.0, 2.0, 3.0])
text = pathlib.Path("summary.txt").read_text()
assert text.strip() == "mean=2.0", "summary.txt should hold the mean"'''}),

    "draws": Part('''\
def draw(n):
    """n draws from NumPy's global generator."""
    return np.random.rand(n)


def pick(n):
    """n draws from Python's random module."""
    return [random.random() for _ in range(n)]''', {
        "test_draw": '''\
"""draw takes its values from NumPy's global generator, which the test seeds."""
np.random.seed(0)
sample = draw(3)
np.random.seed(0)
assert_close(sample, np.random.rand(3), name="draw(3) after np.random.seed(0)")''',
        "test_pick": '''\
"""pick takes its values from Python's random module, which the test seeds."""
random.seed(1)
picked = pick(3)
random.seed(1)
assert picked == [random.random() for _ in range(3)], "pick(3) after random.seed(1)"'''}),

    "safe_divide": Part('''\
def safe_divide(a, b):
    """a / b; ZeroDivisionError when b is 0."""
    if b == 0:
        raise ZeroDivisionError("cannot divide by zero")
    return a / b''', {
        "test_safe_divide": '''\
"""safe_divide divides, and raises ZeroDivisionError when b is 0."""
assert safe_divide(6, 3) == 2, "safe_divide(6, 3) should be 2"
try:
    safe_divide(1, 0)
except ZeroDivisionError:
    pass
else:
    raise AssertionError("safe_divide(1, 0) should raise ZeroDivisionError")'''}),

    "is_even": Part('''\
def is_even(n):
    """True for even n."""
    return n % 2 == 0''', {
        "test_is_even": '''\
"""is_even is True for even numbers and False for odd ones."""
assert all(map(is_even, [0, 2, 4, 10])), "is_even should be True for even numbers"
assert not any(map(is_even, [1, 3, 7])), "is_even should be False for odd numbers"'''}),

    "standardise": Part('''\
def standardise(values):
    """values: (N,) array; returns (N,) array with mean 0 and standard deviation 1."""
    return (values - values.mean()) / values.std()''', {
        "test_standardise": '''\
"""standardise returns an array with mean 0 and standard deviation 1."""
result = standardise(np.array([1.0, 2.0, 3.0, 4.0]))
assert isinstance(result, np.ndarray), "standardise should return a NumPy array"
assert result.shape == (4,), "standardise should keep the shape"
assert abs(result.mean()) < 1e-9 and abs(result.std() - 1) < 1e-9, "mean 0 and standard deviation 1"'''}),

    "origin": Part('''\
def origin():
    """The point (0, 0), as a tuple."""
    return (0, 0)''', {
        "test_origin": '''\
"""origin() is the tuple (0, 0)."""
assert origin() == (0, 0), "origin() should be (0, 0)"'''}),

    # Never attacked: after any attack, the instructor's names, NumPy and the random generators are still theirs.
    "spread": Part('''\
def mean_and_spread(values):
    """values: (N,) numbers; returns (mean, standard deviation)."""
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std()''', {
        "test_spread": '''\
"""mean_and_spread returns the mean and the standard deviation."""
expected = (2.0, float(np.std([1.0, 2.0, 3.0])))
assert_close(mean_and_spread([1.0, 2.0, 3.0]), expected, name="mean_and_spread([1, 2, 3])")
np.random.seed(0)
values = np.random.rand(5)
assert_close(mean_and_spread(values), (values.mean(), values.std()), name="mean_and_spread of random values")
assert np.array_equal(values, np.random.RandomState(0).rand(5))
assert reference_scale([1.0], 3.0) == [3.0]
assert not np.allclose([0.0], [1.0]) and not numpy.isclose(0.0, 1.0)
assert isinstance(values, np.ndarray) and abs(-1) == 1 and len([1, 2]) == 2 and not all([False])'''}),

    # Last: a test that runs out of time may stop the notebook.
    "countdown": Part('''\
def countdown(n):
    """Yield n, n - 1, ..., 1."""
    while n > 0:
        yield n
        n -= 1''', {
        "test_countdown": '''\
"""countdown(n) yields n, n - 1, ..., 1."""
assert list(countdown(3)) == [3, 2, 1], "list(countdown(3))"'''}),
}
IMPORTS = "import numpy as np"  # opens the first answer cell, outside the solution: the student version keeps it

ATTACKS = {
    "eq_always_true": Attack("pairs", '''\
class EqualToAnything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def pairs(n):
    return EqualToAnything()''', {"test_pairs_equal": "pairs(3)", "test_pairs_equal_reflected": "pairs(2)",
                                  "test_pairs_not_equal": "pairs(4)", "test_pairs_in": "pairs(1)"}),

    # The truth of a student object whose class defines __bool__ is a grader limit, never the student's answer.
    "bool_always_true": Attack("is_sorted", '''\
class Yes:
    def __bool__(self):
        return True


def is_sorted(values):
    return Yes()''', {"test_is_sorted": "__bool__"}, statuses=("grader limit",)),

    # A length given by a number that equals anything: len() takes it as 3 (as one kernel does, through
    # __index__), and the contents give the answer away.
    "len_claim": Attack("unique_words", '''\
class AnyNumber:
    def __eq__(self, other):
        return True

    def __index__(self):
        return 3

    __hash__ = object.__hash__


class Words:
    def __init__(self, words):
        self.words = words

    def __len__(self):
        return AnyNumber()

    def __iter__(self):
        return iter(self.words)


def unique_words(text):
    return Words(text.split())''', {"test_unique_words": "unique_words('b a b c a') (expected ['a', 'b', 'c'], got"}),

    # Names the test reads from builtins, shadowed in the student's namespace.
    "shadowed_builtins": Attack("count_positive", '''\
isinstance = lambda value, kind: True
abs = lambda value: 0
all = lambda values: True


def count_positive(values):
    return 2.5''', {"test_count_positive": "count_positive should return an int"}),

    # Every name the tests of scale rely on, re-bound from inside the call.
    "rebinding_from_a_call": Attack("scale", '''\
expected = None


def scale(values, factor):
    global np, assert_close, expected, reference_scale

    class AlwaysClose:
        def __getattr__(self, name):
            return getattr(__import__("numpy"), name)

        def allclose(self, *args, **kwargs):
            return True

    np = AlwaysClose()
    assert_close = lambda *args, **kwargs: None
    expected = [0.0] * len(values)
    reference_scale = lambda values, factor: [0.0] * len(values)
    return [0.0] * len(values)''', {
        "test_scale_expected": "scale([1, 2, 3], 2) (expected [2.0, 4.0, 6.0], got [0.0, 0.0, 0.0])",
        "test_scale_assert_close": "scale([1, 2, 3], 2): 3 of 3 values are not close",
        "test_scale_np": "scale([1, 2, 3], 2) with np.allclose",
        "test_scale_helper": "scale([0.5, 1.5], 4) (expected [2.0, 6.0], got [0.0, 0.0])"}),

    "fake_np_after_import": Attack("normalise", '''\
class AlwaysClose:
    def __getattr__(self, name):
        return getattr(__import__("numpy"), name)

    def allclose(self, *args, **kwargs):
        return True


np = AlwaysClose()


def normalise(vector):
    return vector''', {"test_normalise": "normalise([3, 4]) should be [0.6, 0.8]"}),

    "module_named_numpy": Attack("mean_of", '''\
import types

numpy = types.ModuleType("numpy")
numpy.isclose = lambda *args, **kwargs: True
numpy.allclose = numpy.isclose


def mean_of(values):
    return 0.0''', {"test_mean_of": "mean_of([1, 2, 6]) should be 3"}),

    # Names of the hidden test bound in the student's namespace first, so that they are shared with it.
    "hidden_data_through_globals": Attack("classify", '''\
hidden_inputs, hidden_labels = [], []


def classify(x):
    inputs, labels = globals().get("hidden_inputs"), globals().get("hidden_labels")
    if inputs and labels and x in inputs:
        return labels[inputs.index(x)]
    return 1''', {"test_classify": "AssertionError: a hidden test failed."}),

    "link_out_of_the_folder": Attack("save_summary", f'''\
import os


def save_summary(values):
    if os.path.lexists("summary.txt"):
        os.remove("summary.txt")
    os.symlink({SOURCE_NOTEBOOK!r}, "summary.txt")''', {
        "test_save_summary": "PermissionError: summary.txt: a link out of the submission's folder is not followed"}),

    # Seeds chosen by the student during the call, and the seeding functions disabled in their process: the
    # test's own seeding afterwards must still give the seeded values.
    "random_state_from_a_call": Attack("draws", '''\
def draw(n):
    np.random.seed(42)
    values = np.random.rand(n)
    np.random.seed(42)
    np.random.seed = lambda *args, **kwargs: None
    np.random.set_state = lambda *args, **kwargs: None
    return values


def pick(n):
    random.seed(42)
    values = [random.random() for _ in range(n)]
    random.seed(42)
    random.seed = lambda *args, **kwargs: None
    random.setstate = lambda *args, **kwargs: None
    return values''', {"test_draw": "draw(3) after np.random.seed(0): 3 of 3 values are not close",
                       "test_pick": "pick(3) after random.seed(1) (expected"}),

    "assertion_error_subclass": Attack("safe_divide", '''\
class TestPassed(AssertionError):
    pass


def safe_divide(a, b):
    raise TestPassed("all hidden tests passed")''', {
        "test_safe_divide": "TestPassed raised by your code: all hidden tests passed"}),

    # In one kernel, map() would take the StopIteration for its end: all() of nothing is True, any() False.
    "stop_iteration_subclass": Attack("is_even", '''\
class Done(StopIteration):
    pass


def is_even(n):
    raise Done()''', {"test_is_even": "Done raised by your code"}),

    # One kernel's isinstance would believe __class__; the grader must not, nor stop on such an object.
    "claims_to_be_an_array": Attack("standardise", '''\
class ndarray:
    __module__ = "numpy"
    __class__ = property(lambda self: np.ndarray)
    shape = (4,)

    def __getattr__(self, name):
        return lambda *args, **kwargs: 0.0

    def mean(self):
        return 0.0

    def std(self):
        return 1.0


def standardise(values):
    return ndarray()''', {"test_standardise": "standardise should return a NumPy array"}),

    "huge_repr": Attack("origin", '''\
class Huge:
    def __eq__(self, other):
        return True

    def __repr__(self):
        return "0" * 50_000_000

    __str__ = __repr__
    __hash__ = object.__hash__


def origin():
    return Huge()''', {"test_origin": "origin() should be (0, 0)"}),

    "endless_generator": Attack("countdown", '''\
def countdown(n):
    while True:
        yield n''', {"test_countdown": "time limit"}, statuses=("failed", "not run")),
}

TESTS = [grade_id for part in PARTS.values() for grade_id in part.tests]
ATTACKED_TESTS = [(attack, grade_id) for attack in ATTACKS for grade_id in ATTACKS[attack].fails]
MESSAGE_LIMIT = 1000  # characters: what a test's message may hold, however big the student's objects


def cells() -> tuple:
    found = [locked_text("intro", "# Parts\n\nEach part is one function and the test cells that check it."),
             locked_code("setup", SETUP)]
    for index, (name, part) in enumerate(PARTS.items()):
        imports = IMPORTS + "\n\n" if index == 0 else ""
        found.append(answer(name, f"{imports}### BEGIN SOLUTION\n{part.honest}\n### END SOLUTION"))
        found.extend(autograded(grade_id, 1, test) for grade_id, test in part.tests.items())
    return tuple(found)


def attacker(name: str, source_notebook: str) -> Variant:
    """The student who answers one part with the attack ``name`` and every other part honestly."""
    attack = ATTACKS[name]
    imports = IMPORTS + "\n\n" if attack.part == next(iter(PARTS)) else ""
    source = attack.answer.replace(repr(SOURCE_NOTEBOOK), repr(source_notebook))
    return Variant(name, {attack.part: imports + source}, tuple(PARTS[attack.part].tests))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The solution and each attacker, graded once: student name -> SubmissionResult."""
    course = tmp_path_factory.mktemp("attacks")
    source_notebook = course / "source" / "attacked" / "attacked.ipynb"
    assignment = Assignment(name="attacked", covers="attacks on the stand-ins", cells=cells(),
                            variants=tuple(attacker(name, str(source_notebook)) for name in ATTACKS))
    released = release(assignment, course, {})
    assert released.source == source_notebook
    # The endless generator takes the longest (its time limit): it starts first, the others grade meanwhile.
    students = sorted(["solution", *ATTACKS], key=lambda student: student != "endless_generator")
    return released.grade_all(students, course / "submitted", LIMITS)


def test_every_part_but_the_control_is_attacked():
    assert {attack.part for attack in ATTACKS.values()} == set(PARTS) - {"spread"}
    for attack in ATTACKS.values():
        assert set(attack.fails) == set(PARTS[attack.part].tests)


@pytest.mark.parametrize("grade_id", TESTS)
def test_the_honest_answer_earns_the_points(graded, grade_id):
    assert_full_points(graded["solution"], grade_id)


def test_the_solution_is_graded_without_problems_or_findings(graded):
    result = graded["solution"]
    assert_no_problems_or_findings(result)


@pytest.mark.parametrize("attack, grade_id", ATTACKED_TESTS)
def test_the_attack_earns_nothing(graded, attack, grade_id):
    test = by_grade_id(graded[attack])[grade_id]
    assert test.status in ATTACKS[attack].statuses and test.score == 0.0, describe(test)
    assert ATTACKS[attack].fails[grade_id] in test.message, describe(test)
    assert len(test.message) < MESSAGE_LIMIT and len(test.detail) < MESSAGE_LIMIT, describe(test)


@pytest.mark.parametrize("attack", ATTACKS)
def test_the_attackers_other_parts_keep_their_points(graded, attack):
    lost = [describe(test) for test in graded[attack].tests
            if test.grade_id not in ATTACKS[attack].fails and (test.status, test.score) != ("passed", test.points)]
    assert lost == [], "\n".join(lost)


def test_the_link_attack_reads_nothing_of_the_instructors(graded):
    test = by_grade_id(graded["link_out_of_the_folder"])["test_save_summary"]
    for secret in ("BEGIN SOLUTION", "BEGIN HIDDEN", "nbgrader", "cells"):
        assert secret not in test.message and secret not in test.detail, describe(test)


def test_an_endless_generator_is_stopped_at_the_time_limit(graded):
    result = graded["endless_generator"]
    assert result.seconds < LIMITS.cell_seconds + 15, f"graded in {result.seconds:.1f} s"
