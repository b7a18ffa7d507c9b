"""The fidelity catalogue: this course's own assignments, and the sets of nbgrader's test fixtures graded alike.

ASSIGNMENTS are written with the builder of notebook.py (one module each). NBGRADER_FIXTURES names notebooks of
nbgrader's own test suite (``nbgrader/tests/apps/files/`` in the installed package), read at test time: each
entry is one notebook of a fixture assignment, its instructor version and what each student hands in, as
nbgrader's test_nbgrader_autograde.py (and, for open_relative_file, test_nbgrader_validate.py) use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import files, functions, objects

AUTOTESTS = Path(__file__).with_name("autotests.yml")

ASSIGNMENTS = {assignment.name: assignment for assignment in
               (functions.ASSIGNMENT, objects.ASSIGNMENT, files.ASSIGNMENT)}


@dataclass(frozen=True)
class FixtureNotebook:
    name: str  # the notebook's name in the fixture assignment
    source: str  # the instructor version, a file in nbgrader/tests/apps/files/
    submissions: dict[str, str]  # student -> the file handed in; RELEASED: the generated student version
    data_files: tuple[str, ...] = field(default=())  # shipped next to the notebook
    nbgrader_scores: dict[str, float] = field(default_factory=dict)  # student -> notebook total nbgrader's tests assert


RELEASED = "<released>"
NBGRADER_FIXTURES_ASSIGNMENT = "nbgrader_fixtures"
# nbgrader's tests for hidden tests release with this code stub (test_hidden_tests_single_notebook and
# test_hidden_tests_autotest); the fixture course does the same.
NBGRADER_FIXTURES_CONFIG = 'c.ClearSolutions.code_stub = dict(python="# YOUR CODE HERE")\n'
NBGRADER_FIXTURES = (
    # test_grade: a written answer, a graded code answer, tests reading a student variable.
    FixtureNotebook("basics", "submitted-unchanged.ipynb",
                    {"foo": "submitted-unchanged.ipynb", "bar": "submitted-changed.ipynb"},
                    nbgrader_scores={"foo": 1, "bar": 2}),
    # test_force_single_notebook and others: the classic squares notebook, handed in solved.
    FixtureNotebook("squares", "test.ipynb", {"foo": "test.ipynb"}),
    # test_hidden_tests_single_notebook: the released notebook passes the visible tests, not the hidden ones.
    FixtureNotebook("hidden_tests", "test-hidden-tests.ipynb", {"foo": RELEASED}, nbgrader_scores={"foo": 1.5}),
    # test_grade_autotest, test_grade_hashed_autotest, test_grade_complex_autotest, test_hidden_tests_autotest.
    FixtureNotebook("autotest_simple", "autotest-simple.ipynb",
                    {"foo": "autotest-simple-unchanged.ipynb", "bar": "autotest-simple-changed.ipynb"},
                    nbgrader_scores={"foo": 0, "bar": 1}),
    FixtureNotebook("autotest_hashed", "autotest-hashed.ipynb",
                    {"foo": "autotest-hashed-unchanged.ipynb", "bar": "autotest-hashed-changed.ipynb"},
                    nbgrader_scores={"foo": 0, "bar": 1}),
    FixtureNotebook("autotest_multi", "autotest-multi.ipynb",
                    {"foo": "autotest-multi-unchanged.ipynb", "bar": "autotest-multi-changed.ipynb"},
                    nbgrader_scores={"foo": 0, "bar": 3}),
    FixtureNotebook("autotest_hidden", "autotest-hidden.ipynb",
                    {"foo": "autotest-hidden-unchanged.ipynb", "bar": "autotest-hidden-changed-wrong.ipynb",
                     "baz": "autotest-hidden-changed-right.ipynb"},
                    nbgrader_scores={"foo": 0, "bar": 0, "baz": 1}),
    # test_grade_with_validating_envvar: a test that fails whenever NBGRADER_EXECUTION is set.
    FixtureNotebook("validating_envvar", "validating-environment-variable.ipynb",
                    {"foo": "validating-environment-variable.ipynb"}, nbgrader_scores={"foo": 0}),
    # test_nbgrader_validate's open_relative_file: a test reading a data file next to the notebook.
    FixtureNotebook("open_relative_file", "open_relative_file.ipynb", {"foo": "open_relative_file.ipynb"},
                    data_files=("data.txt",)),
    # test_side_effects: a notebook without graded cells that writes a file.
    FixtureNotebook("side_effects", "side-effects.ipynb", {"foo": "side-effects.ipynb"}),
)


def nbgrader_fixture_folder() -> Path:
    """nbgrader/tests/apps/files/ of the installed nbgrader."""
    import nbgrader
    return Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
