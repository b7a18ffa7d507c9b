"""Shared fixtures: scratch copies of the course, and classes of made-up students graded with real nbgrader."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from mutations import CATALOGUE, VARIANTS, Mutant, Variant

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps1_gradient_descent"
# Feedback is what most of a grading run costs; the tests read it for this assignment's class only.
FEEDBACK_CHECKED = {ASSIGNMENT}


def pytest_configure(config):
    # The marker only names the tests that install the course afresh; they run in the normal suite.
    config.addinivalue_line("markers", "slow: takes minutes (installs the course into a new environment)")


def copy_course(destination: Path) -> Path:
    """Copy what an instructor's course folder holds (config, source/, assignments/) to ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", destination)
    for folder in ("source", "assignments"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return destination


def run_autograder(*args: str, cwd: Path = ROOT, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the ``autograder`` command as a user would, capturing what it prints."""
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def notebook_path(folder: Path, assignment: str) -> Path:
    return folder / assignment / f"{assignment}.ipynb"


def mutate(notebook: nbformat.NotebookNode, mutant: Mutant | Variant) -> nbformat.NotebookNode:
    """Apply a mutant's edits to the solution cell it names (fails loudly if the solution changed)."""
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mutant.cell:
            for old, new in mutant.edits:
                assert old in cell.source, f"{mutant.name}: the solution of {mutant.cell} changed; update tests/mutations.py"
                cell.source = cell.source.replace(old, new)
            return notebook
    raise AssertionError(f"{mutant.name}: no cell {mutant.cell} in the instructor notebook")


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass
class GradedClass:
    assignment: str
    course: Path
    submissions: Path
    result: subprocess.CompletedProcess
    rows: dict  # student id -> CSV row
    broken: Path  # the malformed submission
    before: dict  # fingerprint of the submissions before grading
    source: Path
    released: Path


def write_class(inbox: Path, assignment: str, source: Path, released: Path,
                mutants: list[Mutant | Variant]) -> dict[str, Path]:
    """In nbgrader's layout under ``inbox``: the solution, the untouched student version, each mutant or variant
    (named after it) and a truncated notebook file, broken_json. Returns each student's notebook path."""
    submissions = {"solution": nbformat.read(source, as_version=4),
                   "untouched": nbformat.read(released, as_version=4),
                   **{mutant.name: mutate(nbformat.read(source, as_version=4), mutant) for mutant in mutants},
                   "broken_json": released.read_text()[:500]}
    paths = {}
    for student, content in submissions.items():
        paths[student] = path = notebook_path(inbox / student, assignment)
        path.parent.mkdir(parents=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
    return paths


def grade_class(workspace: Path, assignment: str) -> GradedClass:
    """Submit the solution, the untouched student version, every catalogued mutant and variant and a broken file;
    grade them.

    Feedback is written only for the assignments in FEEDBACK_CHECKED.
    """
    course = copy_course(workspace / "course")
    submissions = workspace / "inbox"
    source, released = notebook_path(course / "source", assignment), notebook_path(course / "assignments", assignment)
    broken = write_class(submissions, assignment, source, released,
                         CATALOGUE.get(assignment, []) + VARIANTS.get(assignment, []))["broken_json"]
    before = fingerprint(submissions)
    feedback = [] if assignment in FEEDBACK_CHECKED else ["--no-feedback"]
    result = run_autograder("--quiet", "grade", assignment, "--submissions", str(submissions), *feedback, cwd=course)
    with (course / "grades" / f"{assignment}.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return GradedClass(assignment, course, submissions, result, rows, broken, before, source, released)


class GradedClasses:
    """graded_class(assignment) returns that assignment's graded class, graded once per test session.

    Classes are graded in the background, one at a time (the grader itself uses every core). The first call, or
    start(), queues every assignment, the asked-for one first, so tests run while the next class is graded.
    """

    def __init__(self, workspace):
        self.workspace = workspace  # pytest's tmp_path_factory
        self.assignments = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.futures: dict[str, Future] = {}

    def start(self, first: str | None = None, only: set[str] | None = None) -> None:
        """Queue every assignment (or those in ``only``), ``first`` first, unless grading has begun."""
        if not self.futures:
            queued = [first] * bool(first) + [a for a in self.assignments if a != first and (only is None or a in only)]
            for name in queued:
                self.futures[name] = self.pool.submit(grade_class, self.workspace.mktemp(name), name)

    def __call__(self, assignment: str) -> GradedClass:
        self.start(assignment)
        if assignment not in self.futures:
            self.futures[assignment] = self.pool.submit(grade_class, self.workspace.mktemp(assignment), assignment)
        return self.futures[assignment].result()


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    classes = GradedClasses(tmp_path_factory)
    yield classes
    classes.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return copy_course(tmp_path / "course")
