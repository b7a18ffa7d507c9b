"""fid_functions: functions and names, and the checks instructors write about them.

Covers an import made in an answer cell, a name bound in a locked cell and re-bound by the student, the test that
deletes one student function to see that another calls it, a test using a helper from a locked cell, visible and
hidden parts in one test cell, a check guarded by NBGRADER_EXECUTION, printed output captured by the test, partial
credit from the number a test cell ends with, ### AUTOTEST and ### HASHED AUTOTEST lines, a written answer, a
manually graded code cell and a task with a mark scheme.
"""

from .notebook import (Assignment, Variant, answer, graded_code, locked_code, locked_text, task, tests, text,
                       written)

CELLS = (
    locked_text("intro", """\
# Functions and names

Write the functions below; each test cell checks one of them. Points: 15 automatic, 5 graded by a person."""),

    locked_code("setup", """\
import math

# Set in Part 2, below.
threshold = None


def check_close(actual, expected, what, tolerance=1e-9):
    \"\"\"Fail with a message naming what differs when actual is not within tolerance of expected.\"\"\"
    if not math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance):
        raise AssertionError(f"{what}: expected about {expected}, got {actual}")"""),

    text("## Part 1: NumPy (2 points)\n\nImport NumPy as `np` and write `row_norms(matrix)`: the Euclidean norm "
         "of each row of a 2-D array."),
    answer("row_norms", """\
### BEGIN SOLUTION
import numpy as np


def row_norms(matrix):
    \"\"\"matrix: (N, D) array; returns (N,) array, the Euclidean norm of each row.\"\"\"
    return np.sqrt((np.asarray(matrix, dtype=float) ** 2).sum(axis=1))
### END SOLUTION"""),
    tests("test_numpy_import", 1, """\
\"\"\"np is NumPy, imported in the answer cell.\"\"\"
assert np.__name__ == "numpy", "import numpy as np"
assert np.array_equal(np.arange(3) ** 2, [0, 1, 4])"""),
    tests("test_row_norms", 1, """\
\"\"\"row_norms returns one norm per row, as an array.\"\"\"
norms = row_norms(np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]]))
assert isinstance(norms, np.ndarray), f"row_norms should return an array, got {type(norms).__name__}"
assert norms.shape == (3,)
assert np.allclose(norms, [5.0, 0.0, 1.0])"""),

    text("## Part 2: A threshold (1 point)\n\nThe set-up cell binds `threshold = None`. Set it to one half."),
    answer("set_threshold", """\
### BEGIN SOLUTION
threshold = 0.5
### END SOLUTION"""),
    tests("test_threshold", 1, """\
\"\"\"threshold was set in the answer cell, not left as the set-up cell bound it.\"\"\"
assert threshold is not None, "set threshold in the answer cell"
assert threshold == 0.5"""),

    text("## Part 3: Squares (5 points)\n\n`squares(n)` returns the list of $i^2$ for $i = 1 \\dots n$ and raises "
         "`ValueError` when $n < 1$. `sum_of_squares(n)` adds them up, **calling** `squares`."),
    answer("squares", """\
def squares(n):
    \"\"\"Return [1, 4, ..., n**2]; raise ValueError when n < 1.\"\"\"
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be at least 1")
    return [i * i for i in range(1, n + 1)]
    ### END SOLUTION"""),
    answer("sum_of_squares", """\
def sum_of_squares(n):
    \"\"\"Return 1 + 4 + ... + n**2, using squares.\"\"\"
    ### BEGIN SOLUTION
    return sum(squares(n))
    ### END SOLUTION"""),
    tests("test_squares", 2, """\
\"\"\"squares(n) lists the squares of 1..n (visible checks, then hidden ones).\"\"\"
assert squares(1) == [1]
assert squares(3) == [1, 4, 9], f"squares(3) should be [1, 4, 9], got {squares(3)}"
### BEGIN HIDDEN TESTS
assert squares(12)[-1] == 144
assert len(squares(40)) == 40
### END HIDDEN TESTS"""),
    tests("test_squares_invalid", 1, """\
\"\"\"squares raises ValueError for n < 1.\"\"\"
for bad in (0, -3):
    try:
        squares(bad)
    except ValueError:
        pass
    else:
        raise AssertionError(f"squares({bad}) should raise ValueError")"""),
    tests("test_sum_of_squares", 1, """\
\"\"\"sum_of_squares adds the squares up (checked with the set-up cell's helper).\"\"\"
check_close(sum_of_squares(10), 385, "sum_of_squares(10)")
check_close(sum_of_squares(1), 1, "sum_of_squares(1)")"""),
    tests("test_sum_calls_squares", 1, """\
\"\"\"sum_of_squares calls squares rather than repeating its work.\"\"\"
kept_squares = squares
del squares
try:
    sum_of_squares(4)
except NameError:
    pass
else:
    raise AssertionError("sum_of_squares should call squares")
finally:
    squares = kept_squares"""),

    text("## Part 4: Triangle numbers (2 points)\n\n`triangle(n)` returns $1 + 2 + \\dots + n$ exactly, as an "
         "`int`, even for very large `n`."),
    answer("triangle", """\
def triangle(n):
    \"\"\"Return 1 + 2 + ... + n as an exact int.\"\"\"
    ### BEGIN SOLUTION
    return n * (n + 1) // 2
    ### END SOLUTION"""),
    tests("test_triangle", 2, """\
\"\"\"triangle is exact; the large case runs only when the notebook is graded.\"\"\"
import os

assert triangle(100) == 5050
if os.environ.get("NBGRADER_EXECUTION") == "autograde":
    assert triangle(10**12) == 500000000000500000000000, "triangle should stay exact for large n"
"""),

    text("## Part 5: A summary line (1 point)\n\n`describe(values)` **prints** `<count> values, mean <mean>` "
         "with the mean to two decimals."),
    answer("describe", """\
def describe(values):
    \"\"\"Print how many values there are and their mean.\"\"\"
    ### BEGIN SOLUTION
    mean = sum(values) / len(values)
    print(f"{len(values)} values, mean {mean:.2f}")
    ### END SOLUTION"""),
    tests("test_describe_prints", 1, """\
\"\"\"describe prints one summary line.\"\"\"
import contextlib
import io

printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    describe([1, 2, 3, 4])
assert printed.getvalue() == "4 values, mean 2.50\\n", f"describe printed {printed.getvalue()!r}"
"""),

    text("## Part 6: Signs (2 points, partial credit)\n\n`sign_word(x)` returns `'negative'`, `'zero'` or "
         "`'positive'`."),
    answer("sign_word", """\
def sign_word(x):
    \"\"\"Name the sign of x.\"\"\"
    ### BEGIN SOLUTION
    if x < 0:
        return "negative"
    return "zero" if x == 0 else "positive"
    ### END SOLUTION"""),
    tests("test_sign_word_partial_credit", 2, """\
\"\"\"Partial credit: the score is the number this cell ends with (2 points for all four cases right).\"\"\"
cases = {-2: "negative", 0: "zero", 3: "positive", 7.5: "positive"}
right = sum(sign_word(x) == word for x, word in cases.items())
2 * right / len(cases)"""),

    text("## Part 7: Settings (2 points)\n\nSet `learning_rate` to 0.1, `layer_sizes` to `[64, 32, 10]` and "
         "`activation` to `'relu'`."),
    answer("settings", """\
### BEGIN SOLUTION
learning_rate = 0.1
layer_sizes = [64, 32, 10]
activation = "relu"
### END SOLUTION"""),
    tests("test_settings_autotest", 1, """\
\"\"\"The settings, checked by nbgrader's AUTOTEST (expanded when the assignment is generated).\"\"\"
### AUTOTEST learning_rate; layer_sizes
### AUTOTEST activation"""),
    tests("test_settings_hashed_autotest", 1, """\
\"\"\"The same, with the expected values hashed in the student version.\"\"\"
### HASHED AUTOTEST sum(layer_sizes)
### HASHED AUTOTEST activation
### AUTOTEST squares(4)"""),

    text("## Part 8: Written and hand-graded parts (5 points)"),
    text("Why should `sum_of_squares` call `squares` instead of computing the squares again?"),
    written("written_reuse", 2, """\
One definition of the squares means one place to fix a bug, and the test of `squares` then also covers
`sum_of_squares`."""),
    text("Write `show_table(rows)`, printing a list of `(name, value)` pairs as an aligned table."),
    graded_code("show_table", 1, """\
def show_table(rows):
    ### BEGIN SOLUTION
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    ### END SOLUTION"""),
    task("task_complexity", 2, """\
**Task.** Say, in a cell you add below, how the running time of `sum_of_squares(n)` grows with `n`, and why.

=== BEGIN MARK SCHEME ===
Linear in n (one list of n squares, then one pass to add them): 2 points; the right order without a reason: 1.
=== END MARK SCHEME ==="""),
)

VARIANTS = (
    # Different code, every test passed.
    Variant("alternative", {
        "row_norms": """\
import numpy as np


def row_norms(matrix):
    return np.linalg.norm(np.asarray(matrix, dtype=float), axis=1)""",
        "set_threshold": "threshold = 1 / 2",
        "squares": """\
def squares(n):
    if n <= 0:
        raise ValueError(f"expected n >= 1, got {n}")
    result = []
    for i in range(1, n + 1):
        result.append(i ** 2)
    return result""",
        "sum_of_squares": """\
def sum_of_squares(n):
    total = 0
    for value in squares(n):
        total += value
    return total""",
        "triangle": """\
def triangle(n):
    return sum(range(n + 1)) if n < 10**6 else n * (n + 1) // 2""",
        "describe": """\
def describe(values):
    count = len(values)
    print(count, "values, mean", format(sum(values) / count, ".2f"))""",
        "sign_word": """\
def sign_word(x):
    return ["negative", "zero", "positive"][(x > 0) - (x < 0) + 1]""",
        "settings": """\
learning_rate = 1e-1
layer_sizes = [2**6, 2**5, 10]
activation = "ReLU".lower()""",
        "written_reuse": "Reuse: a fix to `squares` then reaches `sum_of_squares` too.",
        "show_table": """\
def show_table(rows):
    for name, value in rows:
        print(name.ljust(12), value)""",
    }),
    # Plausible mistakes: some tests fail, others pass.
    Variant("partial", {
        "sum_of_squares": """\
def sum_of_squares(n):
    return n * (n + 1) * (2 * n + 1) // 6""",
        "triangle": """\
def triangle(n):
    return n * (n + 1) / 2""",
        "sign_word": '''\
def sign_word(x):
    return "negative" if x < 0 else "positive"''',
        "settings": '''\
learning_rate = 0.1
layer_sizes = [64, 32, 10]
activation = "ReLU"''',
        "written_reuse": "It is shorter.",
    }, loses=("test_sum_calls_squares", "test_triangle", "test_sign_word_partial_credit", "test_settings_autotest",
              "test_settings_hashed_autotest")),
    # Other mistakes, failing the tests the partial variant passes (the AUTOTEST of squares(4) included).
    Variant("other_mistakes", {
        "row_norms": """\
import numpy


def row_norms(matrix):
    return numpy.sqrt((numpy.asarray(matrix, dtype=float) ** 2).sum(axis=0))""",
        "set_threshold": 'threshold = "0.5"',
        "squares": """\
def squares(n):
    if n < 1:
        raise Exception("n must be at least 1")
    return [i * i for i in range(1, n)]""",
        "describe": """\
def describe(values):
    mean = sum(values) / len(values)
    print(f"{len(values)} values, mean {mean}")""",
        "written_reuse": "So that it is faster.",
    }, loses=("test_numpy_import", "test_row_norms", "test_threshold", "test_squares", "test_squares_invalid",
              "test_sum_of_squares", "test_describe_prints", "test_settings_hashed_autotest")),
)

ASSIGNMENT = Assignment("fid_functions", "functions and names: imports in answers, re-bound names, del-a-function, "
                        "locked helpers, hidden tests, NBGRADER_EXECUTION, printed output, partial credit, AUTOTEST",
                        CELLS, VARIANTS)
