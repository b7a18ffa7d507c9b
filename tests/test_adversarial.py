"""Hostile submissions on the gradient-descent class: they earn nothing, change nobody else's grade, are
reported by name, and never break the batch.

One batch (see the ``batch`` fixture) holds three honest students and one student per attack. Each attacker
is the released notebook with some answer cells replaced by attack code and others by the honest solution, so
a test can tell what each part deserves: the honest parts their points (unless the attack stopped the
notebook before them), the attacked parts nothing. The honest students are also graded alone in a clean
course first: their grades in the hostile batch must be the same.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
import pytest

from autograder import integrity
from conftest import ASSIGNMENT, ROOT, copy_course, fingerprint, notebook_path, run_autograder

# In every process an attack starts (its command line), so that survivors can be found with pgrep; one per
# test run, so that another run on the same machine is never mistaken for a survivor.
MARKER = f"nnfs-adversary-{uuid.uuid4().hex[:12]}"
GRADE_ARGS = ("--cell-timeout", "5", "--notebook-timeout", "60", "--jobs", "2", "--no-feedback")
PARTS = {"test_numerical_derivative": 2.0, "test_numerical_gradient": 3.0, "test_gradient_descent_1d": 3.0,
         "test_gradient_descent": 4.0, "test_learning_rate_study": 3.0, "test_divergence_threshold": 2.0}
ANSWERS = ("numerical_derivative", "numerical_gradient", "gradient_descent_1d", "gradient_descent",
           "learning_rate_study", "divergence_threshold")
TEST_OF = dict(zip(ANSWERS, PARTS))
HONEST = {"honest_full", "honest_untouched", "honest_partial"}
VICTIM = "honest_full"


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


@dataclass
class Attack:
    """One hostile student: what its cells hold, what it deserves, what the grader must report."""

    answers: dict  # answer grade id -> source; "honest" takes the instructor's solution, others keep the stub
    kinds: set  # integrity kinds that must be reported
    stopped_at: str | None = None  # first test that cannot run (the notebook's process was lost before it)
    edit: Callable | None = None  # further changes to the notebook's cells
    earns: tuple = ()  # answers whose honest code runs although attack code shares their cell
    extra: tuple = ()  # (grade id, source): an ordinary code cell added after that cell

    def honest_tests(self) -> set[str]:
        """The tests this student's honest code deserves: honest answers that ran."""
        honest = {TEST_OF[name] for name, source in self.answers.items() if source == "honest"}
        honest |= {TEST_OF[name] for name in self.earns}
        if self.stopped_at is not None:
            order = list(PARTS)
            honest -= set(order[order.index(self.stopped_at):])
        return honest


def find_cell(notebook, grade_id: str) -> int:
    return next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def edit_tests_a(notebook) -> None:
    """Test cells emptied, deleted, duplicated, re-pointed, turned into an answer, re-labelled."""
    cells = notebook.cells
    cells[find_cell(notebook, "test_numerical_derivative")].source = "pass"
    cells[find_cell(notebook, "test_gradient_descent")].metadata.nbgrader["points"] = 100
    cells[find_cell(notebook, "test_learning_rate_study")].metadata.nbgrader["solution"] = True
    cells[find_cell(notebook, "test_learning_rate_study")].source = "pass"
    cells[find_cell(notebook, "test_divergence_threshold")].metadata.nbgrader["grade_id"] = "my_own_test"
    duplicate = copy.deepcopy(cells[find_cell(notebook, "test_gradient_descent_1d")])
    duplicate["id"] = "copy-of-a-test"  # what Jupyter gives a copied cell: its own id
    cells.insert(find_cell(notebook, "test_gradient_descent_1d") + 1, duplicate)
    del cells[find_cell(notebook, "test_numerical_gradient")]


def edit_tests_b(notebook) -> None:
    """A test cell made markdown, another made an ungraded ordinary cell, cells given more (or odd) points."""
    cells = notebook.cells
    markdown = cells[find_cell(notebook, "test_numerical_derivative")]
    markdown.cell_type = "markdown"
    markdown.pop("outputs", None)
    markdown.pop("execution_count", None)
    ungraded = cells[find_cell(notebook, "test_numerical_gradient")]
    ungraded.metadata.nbgrader.update(grade=False, locked=False, points=0)
    ungraded.source = "assert True"
    cells[find_cell(notebook, "numerical_derivative")].metadata.nbgrader.update(grade=True, points=50)
    cells[find_cell(notebook, "written_two_valleys")].metadata.nbgrader["points"] = 100
    cells[find_cell(notebook, "test_gradient_descent_1d")].metadata.nbgrader["points"] = "lots"  # not a number
    cells[find_cell(notebook, "gradient_descent")].metadata.nbgrader.update(grade=True, points=[100])


def payload(gradebook: Path, victim: Path, wait: float = 2.0, seconds: float = 40.0) -> str:
    """A program that waits, then keeps trying to give everyone 100 points and to overwrite a victim's notebook."""
    return code(f"""
        import os, sqlite3, time  # {MARKER}
        time.sleep({wait})
        deadline = time.time() + {seconds}
        while time.time() < deadline:
            try:
                db = sqlite3.connect({str(gradebook)!r}, timeout=1)
                db.execute("UPDATE grade SET auto_score = 100, manual_score = 100")
                db.commit()
                db.close()
            except Exception:
                pass
            try:
                with open({str(victim)!r}, "w") as handle:
                    handle.write("{{}}")
            except Exception:
                pass
            time.sleep(0.5)
        """)


def attacks(gradebook: Path, victim: Path) -> dict[str, Attack]:
    """Every attacker, knowing the absolute paths of the course's gradebook and of another student's file."""
    course = gradebook.parent
    wrong = {  # plausible shapes, wrong values: these parts deserve nothing
        "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n    return np.zeros(np.shape(x))",
        "gradient_descent_1d": "def gradient_descent_1d(derivative, x0, learning_rate, num_steps):\n"
                               "    return np.zeros(num_steps + 1)",
        "gradient_descent": "def gradient_descent(gradient, x0, learning_rate, num_steps):\n"
                            "    return np.zeros((num_steps + 1, np.size(x0)))",
        "learning_rate_study": "def learning_rate_study(f, gradient, x0, learning_rates, num_steps):\n"
                               "    return np.zeros(len(learning_rates))",
        "divergence_threshold": "divergence_threshold = 0.25",
    }
    later = payload(gradebook, victim)
    return {
        "patch_numpy": Attack({
            "numerical_derivative": code("""
                import numpy
                import numpy.testing
                import autograder

                class Same:
                    def __getattr__(self, name):
                        return self
                deep = Same()""" + ".b" * 900 + """  # too deep for a recursive walk of the code
                np.allclose = lambda *args, **kwargs: True
                np.isclose = lambda *args, **kwargs: True
                numpy.testing.assert_allclose = lambda *args, **kwargs: None
                np.testing.assert_array_equal = lambda *args, **kwargs: None
                autograder.assert_close = lambda *args, **kwargs: None

                def numerical_derivative(f, x, h=1e-5):
                    return 0.0
                """),
            **{name: wrong[name] for name in ANSWERS[1:5]},
            "divergence_threshold": "honest",
        }, {"patched numpy", "patched grading helpers"}),

        "patch_builtins": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": code("""
                import builtins

                __builtins__.__dict__["max"] = lambda *args, **kwargs: 0.0
                builtins.isinstance = lambda value, kind: True
                builtins.abs = lambda value: 0.0
                builtins.len = lambda value: 0

                def numerical_gradient(f, x, h=1e-5):
                    return np.zeros(np.shape(x))
                """),
            "gradient_descent_1d": code("""
                def gradient_descent_1d(derivative, x0, learning_rate, num_steps):
                    import builtins
                    builtins.sorted = lambda *args, **kwargs: []
                    builtins.range = lambda *args: []
                    return np.zeros(num_steps + 1)
                """),
            "gradient_descent": "honest", "learning_rate_study": "honest", "divergence_threshold": "honest",
        }, {"patched builtins"}),

        "rigged_objects": Attack({
            "numerical_derivative": code("""
                class Anything:
                    \"\"\"Equal and close to everything, finite, any shape.\"\"\"
                    def __eq__(self, other): return True
                    def __ne__(self, other): return False
                    def __lt__(self, other): return False
                    def __gt__(self, other): return False
                    __le__ = __ge__ = __eq__
                    def __abs__(self): return 0.0
                    def __sub__(self, other): return 0.0
                    __rsub__ = __sub__
                    def __float__(self): return 0.0
                    def __bool__(self): return True
                    def __array__(self, dtype=None, copy=None): return np.zeros(0)
                    def __len__(self): return 0
                    def __getitem__(self, index): return self
                    shape = ()

                class AlwaysArray(np.ndarray):
                    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
                    __array_priority__ = 1000

                Quiet = type("Quiet", (), {"__eq__": lambda self, other: True, "__hash__": lambda self: 0})

                def numerical_derivative(f, x, h=1e-5):
                    return Anything()
                """),
            "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n    return Anything()",
            "gradient_descent_1d": "def gradient_descent_1d(derivative, x0, learning_rate, num_steps):\n"
                                   "    return np.zeros(num_steps + 1).view(AlwaysArray)",
            "gradient_descent": "def gradient_descent(gradient, x0, learning_rate, num_steps):\n"
                                "    return [Anything() for _ in range(num_steps + 1)]",
            "learning_rate_study": "def learning_rate_study(f, gradient, x0, learning_rates, num_steps):\n"
                                   "    return Quiet()",
            "divergence_threshold": "divergence_threshold = Quiet()",
        }, {"rigged comparison object"}),

        "ipython_hooks": Attack({
            "numerical_derivative": code("""
                import ast
                from IPython.display import display

                class DropAsserts(ast.NodeTransformer):
                    def visit_Assert(self, node):
                        return ast.Pass()

                def disarm(lines):
                    return [line.replace("assert_close(", "(lambda *a, **k: None)(") for line in lines]

                def publish_score(*args):
                    # Plain nbgrader reads a number a graded cell displays as its partial score.
                    get_ipython().display_pub.publish({"text/plain": "2"})
                    get_ipython().displayhook(3.0)
                    display(4)

                get_ipython().ast_transformers.append(DropAsserts())
                get_ipython().input_transformers_post.append(disarm)
                get_ipython().events.register("pre_run_cell", publish_score)
                shell = get_ipython()
                shell.events.register("post_run_cell", publish_score)

                def numerical_derivative(f, x, h=1e-5):
                    assert False
                    return 0.0
                """),
            **{name: wrong[name] for name in ANSWERS[1:3]},
            "gradient_descent": "honest",
            "learning_rate_study": wrong["learning_rate_study"], "divergence_threshold": "honest",
        }, {"installed IPython hooks"}),

        "read_course_files": Attack({
            "numerical_derivative": code(f"""
                import glob, json, os, time

                guesses = [{str(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")!r},
                           {str(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")!r},
                           {str(gradebook)!r}, {str(ROOT / "gradebook.db")!r},
                           "../source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", "/etc/shadow"]
                found = []
                for pattern in ("/*/*/source/*/*.ipynb", "/tmp/**/gradebook.db", "/sandbox/**/*.ipynb",
                                "/*/*.ipynb", "/work/*/*/*.ipynb"):
                    guesses += glob.glob(pattern, recursive=True)
                start = time.monotonic()
                for folder, subfolders, files in os.walk("/"):
                    subfolders[:] = [s for s in subfolders if os.path.join(folder, s) not in ("/proc", "/sys", "/dev")]
                    guesses += [os.path.join(folder, n) for n in files if n.endswith(".ipynb") or n == "gradebook.db"]
                    if time.monotonic() - start > 2:
                        break
                for guess in guesses:
                    try:
                        with open(guess, encoding="utf-8") as handle:
                            cells = json.load(handle)["cells"]
                    except Exception:
                        continue
                    solution = ["".join(c["source"]) for c in cells
                                if c.get("metadata", {{}}).get("nbgrader", {{}}).get("solution")
                                and "BEGIN SOLUTION" in "".join(c["source"])]
                    if any("def numerical_derivative" in s for s in solution):
                        found.append(guess)
                        for source in solution:
                            exec(source, globals())
                print("found", found)
                """),
        }, {"tried to read course files"}),

        "background_process": Attack({
            "numerical_derivative": "honest", "numerical_gradient": "honest",
            "gradient_descent_1d": "honest\n" + code(f"""
                import os, subprocess, sys

                LATER = {later!r}
                subprocess.Popen([sys.executable, "-c", LATER], start_new_session=True, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                child = os.fork()
                if child == 0:  # a double fork: the grandchild belongs to no one
                    os.setsid()
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c", LATER])
                    os._exit(0)
                os.waitpid(child, 0)
                os.fork()  # and a plain fork: a copy of the notebook's process goes on after this cell too
                """),
            "gradient_descent": "import time\ntime.sleep(3)  # the background processes try their writes meanwhile",
        }, {"started a background process", "tried to read course files"}, earns=("gradient_descent_1d",)),

        "exit_os": Attack({
            "numerical_derivative": "honest", "numerical_gradient": "honest",
            "gradient_descent_1d": "honest\nimport os\nos._exit(0)",
            "gradient_descent": "honest", "learning_rate_study": "honest", "divergence_threshold": "honest",
        }, {"ended the process early"}, stopped_at="test_gradient_descent_1d"),

        "exit_sys": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": "honest\nimport sys\nsys.exit(0)",
            "gradient_descent_1d": "raise SystemExit(1)\n" + "honest",
            "gradient_descent": code("""
                import sys

                def gradient_descent(gradient, x0, learning_rate, num_steps):
                    sys.exit(0)
                """),
            "learning_rate_study": code("""
                def learning_rate_study(f, gradient, x0, learning_rates, num_steps):
                    raise KeyboardInterrupt
                exit()
                """),
            "divergence_threshold": "honest",
        }, {"ended the process early"}, earns=("numerical_gradient",)),

        "loop_in_cell": Attack({
            "numerical_derivative": "honest", "numerical_gradient": "honest", "gradient_descent_1d": "honest",
            "gradient_descent": "honest", "divergence_threshold": "honest",
        }, {"changed signal handlers", "ignored the time limit"}, stopped_at="test_numerical_gradient",
            extra=(("test_numerical_derivative", code("""
                import signal

                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while True:
                    pass
                """)),)),

        "loop_in_function": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": code("""
                def numerical_gradient(f, x, h=1e-5):
                    while True:  # stopped by the time limit, then the next cell runs
                        pass
                """),
            "gradient_descent_1d": code("""
                import signal

                def gradient_descent_1d(derivative, x0, learning_rate, num_steps):
                    signal.signal(signal.SIGALRM, signal.SIG_IGN)
                    signal.signal(signal.SIGINT, signal.SIG_IGN)
                    while True:
                        try:
                            while True:
                                pass
                        except BaseException:
                            pass
                """),
            "gradient_descent": "honest", "learning_rate_study": "honest", "divergence_threshold": "honest",
        }, {"changed signal handlers", "ran past the time limit", "ignored the time limit"},
            stopped_at="test_gradient_descent_1d"),

        "exhaust_memory": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": "hog = bytearray(64 << 30)\nhonest",
            "gradient_descent_1d": code("""
                def gradient_descent_1d(derivative, x0, learning_rate, num_steps):
                    blocks = []
                    for _ in range(256):  # 128 GiB, never touched
                        blocks.append(np.empty(1 << 26))
                    return np.zeros(num_steps + 1)
                """),
            "gradient_descent": "honest", "learning_rate_study": "honest", "divergence_threshold": "honest",
        }, {"exhausted memory"}),

        "fork_bomb": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": code(f"""
                import os

                for _ in range(300):  # bounded: the sandbox allows far fewer processes
                    if os.fork() == 0:
                        try:
                            os.execv("/bin/sleep", [{MARKER!r}, "30"])
                        finally:
                            os._exit(0)
                """) + "\nhonest",
            "gradient_descent_1d": "honest", "gradient_descent": "honest", "divergence_threshold": "honest",
        }, {"exhausted processes", "started a background process"}),

        "flood_output": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": code("""
                import os, sys
                print("x" * (300 << 20))
                sys.stderr.write("y" * (100 << 20))
                os.write(1, b"z" * (200 << 20))
                """) + "\nhonest",
            "gradient_descent_1d": code("""
                def gradient_descent_1d(derivative, x0, learning_rate, num_steps):
                    raise ValueError("no! " * (75 << 20))
                """),
            "gradient_descent": "honest\n" + 'raise RuntimeError("z" * (300 << 20))',
            "learning_rate_study": "honest", "divergence_threshold": "honest",
        }, {"flooded output"}, earns=("numerical_gradient", "gradient_descent")),

        "channel_tamper": Attack({
            "numerical_derivative": "honest",
            "numerical_gradient": code("""
                import os
                for descriptor in range(3, 64):
                    try:
                        os.write(descriptor, b"\\xff" * 64)
                    except OSError:
                        pass
                """) + "\nhonest",
            "gradient_descent_1d": "honest", "divergence_threshold": "honest",
        }, {"tampered with the grading channel"}, stopped_at="test_numerical_gradient"),

        # Changing an argument is no integrity problem; the tests pass copies, so it earns nothing either.
        "mutate_arguments": Attack({
            "learning_rate_study": code("""
                def learning_rate_study(f, gradient, x0, learning_rates, num_steps):
                    if len(learning_rates) == 2:  # the visible test, answered by hand
                        return np.array([f(np.array([2.4, 1.2])), f(np.array([1.5, 0.0]))])
                    x0[...] = 0  # the grader writes this back into the test's own x0
                    return np.zeros(len(learning_rates))
                """),
        }, set()),

        "edit_tests_a": Attack({"gradient_descent_1d": "honest", "gradient_descent": "honest"},
                               {"edited a test cell", "cell structure changed"}, edit=edit_tests_a),

        "edit_tests_b": Attack({"numerical_derivative": "honest"}, {"cell structure changed"}, edit=edit_tests_b),
    }


DECLARED = attacks(Path("/gradebook.db"), Path("/victim.ipynb"))  # for test ids; the batch has the real paths
KNOWN_HOLES: set[str] = set()  # attacks that still earn points, each with a strict xfail test
ATTACKERS = sorted(set(DECLARED) - KNOWN_HOLES)
EDITED_CELLS = {  # attacker -> cells whose warnings must name them (with the warning kind)
    "edit_tests_a": {"test_numerical_derivative": "edited test cell", "test_numerical_gradient": "deleted cell",
                     "test_gradient_descent_1d": "duplicated cell", "test_gradient_descent": "changed metadata",
                     "test_learning_rate_study": "changed metadata", "test_divergence_threshold": "deleted cell",
                     "my_own_test": "relabelled cell"},
    "edit_tests_b": {"test_numerical_derivative": "changed cell type", "test_numerical_gradient": "changed metadata",
                     "numerical_derivative": "changed metadata", "written_two_valleys": "changed metadata",
                     "test_gradient_descent_1d": "changed metadata", "gradient_descent": "changed metadata"},
}


def solutions(source: Path) -> dict[str, str]:
    notebook = nbformat.read(source, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: c.source for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def build(released: Path, solved: dict[str, str], attack: Attack) -> nbformat.NotebookNode:
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in attack.answers:
            cell.source = "\n".join(solved[grade_id] if part == "honest" else part
                                    for part in attack.answers[grade_id].split("\n"))
    for after, source in attack.extra:
        notebook.cells.insert(find_cell(notebook, after) + 1, nbformat.v4.new_code_cell(source))
    if attack.edit:
        attack.edit(notebook)
    return notebook


def submit(inbox: Path, student: str, notebook) -> Path:
    path = notebook_path(inbox / student, ASSIGNMENT)
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, path)
    return path


def running(pattern: str) -> list[str]:
    """Ids of the processes whose command line contains ``pattern``."""
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gradebook_scores(database: Path) -> dict[tuple[str, str], tuple]:
    """(student, part) -> (auto score, manual score), read without writing to the file."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT sa.student_id, bc.name, g.auto_score, g.manual_score FROM grade g "
            "JOIN submitted_notebook sn ON g.notebook_id = sn.id "
            "JOIN submitted_assignment sa ON sn.assignment_id = sa.id "
            "JOIN base_cell bc ON g.cell_id = bc.id").fetchall()
    return {(student, part): (auto, manual) for student, part, auto, manual in rows}


@dataclass
class Graded:
    course: Path
    inbox: Path
    result: subprocess.CompletedProcess
    rows: dict  # student -> CSV row
    results: dict  # student -> JSON result
    integrity_rows: list
    seconds: float
    attack_processes: set  # ids of the processes matching MARKER seen while grading
    sandbox_processes: set  # ids of the processes naming the sandboxes' folder seen while grading


def grade(workspace: Path, students: dict) -> Graded:
    """Submit these notebooks to a fresh copy of the course and grade them once, with short time limits."""
    course = copy_course(workspace / "course")
    inbox = workspace / "inbox"
    for student, notebook in students.items():
        submit(inbox, student, notebook)
    return grade_inbox(course, inbox, workspace)


def seed_gradebook(graded: Path, course: Path) -> None:
    """Give a course the assignment's gradebook records, without students (nbgrader takes long to make them)."""
    from nbgrader.api import Gradebook
    shutil.copyfile(graded / "gradebook.db", course / "gradebook.db")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in [s.id for s in gradebook.students]:
            gradebook.remove_student(student)
        assert gradebook.find_assignment(ASSIGNMENT).num_submissions == 0


def grade_inbox(course: Path, inbox: Path, workspace: Path) -> Graded:
    scratch = workspace / "tmp"  # the sandboxes' folders: their bubblewrap command lines name this path
    scratch.mkdir()
    seen: set[str] = set()  # processes of the attacks, seen while the batch ran
    sandboxes: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.3):
            seen.update(running(MARKER))
            sandboxes.update(running(str(scratch)))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TMPDIR", str(scratch))
            result = run_autograder("--quiet", "grade", ASSIGNMENT, "--submissions", str(inbox), *GRADE_ARGS,
                                    cwd=course, timeout=600)
    finally:
        done.set()
        watcher.join()
    seconds = time.monotonic() - start
    grades = course / "grades"
    with (grades / f"{ASSIGNMENT}.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    results = {path.stem: json.loads(path.read_text()) for path in (grades / ASSIGNMENT).glob("*.json")}
    with (grades / ASSIGNMENT / "integrity.csv").open() as handle:
        integrity_rows = list(csv.DictReader(handle))
    return Graded(course, inbox, result, rows, results, integrity_rows, seconds, seen, sandboxes)


@dataclass
class Batch:
    alone: Graded  # the honest students, graded by themselves
    hostile: Graded  # the honest students and every attacker
    attacks: dict[str, Attack]
    before: dict  # fingerprints before grading: "inbox", "source", "repository source"
    after: dict
    gradebook_hash: str  # right after the batch
    gradebook: dict  # its scores then


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    source = notebook_path(ROOT / "source", ASSIGNMENT)
    released = notebook_path(ROOT / "assignments", ASSIGNMENT)
    solved = solutions(source)
    honest = {"honest_full": nbformat.read(source, as_version=4),
              "honest_untouched": nbformat.read(released, as_version=4),
              "honest_partial": build(released, solved, Attack({"numerical_derivative": "honest",
                                                                "numerical_gradient": "honest"}, set()))}
    alone = grade(tmp_path_factory.mktemp("alone"), honest)

    workspace = tmp_path_factory.mktemp("hostile")
    course = copy_course(workspace / "course")
    seed_gradebook(alone.course, course)
    inbox = workspace / "inbox"
    victim = submit(inbox, VICTIM, honest[VICTIM])
    for student in sorted(set(honest) - {VICTIM}):
        submit(inbox, student, honest[student])
    hostile = attacks(course / "gradebook.db", victim)
    for student, attack in hostile.items():
        submit(inbox, student, build(released, solved, attack))
    places = {"inbox": inbox, "source": course / "source", "repository source": ROOT / "source"}
    before = {name: fingerprint(folder) for name, folder in places.items()}
    graded = grade_inbox(course, inbox, workspace)
    gradebook_hash = sha256(course / "gradebook.db")
    after = {name: fingerprint(folder) for name, folder in places.items()}
    return Batch(alone, graded, hostile, before, after, gradebook_hash, gradebook_scores(course / "gradebook.db"))


def part_scores(row: dict) -> dict[str, float]:
    return {part: float(row[part]) for part in PARTS}


def kinds_of(result: dict) -> set[str]:
    return {finding["kind"] for notebook in result["notebooks"] for finding in notebook["integrity"]}


def by_test(result: dict) -> dict[str, dict]:
    return {test["grade_id"]: test for notebook in result["notebooks"] for test in notebook["tests"]}


def graded_cells(notebook) -> list:
    """Id, type, points and (for tests) source of every graded cell, in order."""
    return [(c.metadata.nbgrader["grade_id"], c.cell_type, c.metadata.nbgrader.get("points"),
             c.source if not c.metadata.nbgrader.get("solution") else None)
            for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_the_batch_survives_and_every_student_has_a_row_and_a_result(batch):
    graded = batch.hostile
    students = HONEST | set(batch.attacks)
    assert graded.result.returncode == 1, graded.result.stderr  # problems (lost notebooks), yet every one graded
    assert "Traceback" not in graded.result.stderr, graded.result.stderr
    assert set(graded.rows) == students and set(graded.results) == students
    for student, row in graded.rows.items():
        assert row["score"] != "" and row["max_score"] == "20", row
        assert float(row["score"]) == graded.results[student]["score"]
        assert "not graded" not in row["status"], row
        for test in by_test(graded.results[student]).values():  # a zero that is not a failure says why
            assert test["status"] != "not run" or test["message"].startswith("Not run: "), (student, test)
    assert graded.seconds < 150, f"the hostile batch took {graded.seconds:.0f} s"


@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_students_get_the_grades_they_get_alone(batch, student):
    alone, hostile = batch.alone.rows[student], batch.hostile.rows[student]
    assert {k: v for k, v in hostile.items() if k != "status"} == {k: v for k, v in alone.items() if k != "status"}
    assert hostile["status"] == alone["status"] and "problems" not in hostile["status"]
    assert by_test(batch.hostile.results[student]) == by_test(batch.alone.results[student])
    expected = {"honest_full": 17.0, "honest_untouched": 0.0, "honest_partial": 5.0}[student]
    assert float(hostile["score"]) == expected  # a control: the honest grades are the right ones
    assert kinds_of(batch.hostile.results[student]) == set(), batch.hostile.results[student]["notebooks"]


@pytest.mark.parametrize("student", ATTACKERS)
def test_an_attacker_earns_only_what_its_honest_code_deserves(batch, student):
    attack = batch.attacks[student]
    row = batch.hostile.rows[student]
    deserved = {part: points if part in attack.honest_tests() else 0.0 for part, points in PARTS.items()}
    assert part_scores(row) == deserved, row
    assert row["written_two_valleys"] == "0" and row["needs_manual_grade"] == "no"  # never answered
    assert float(row["score"]) == sum(deserved.values()) and row["max_score"] == "20"
    assert {part: batch.gradebook[(student, part)][0] for part in PARTS} == deserved


@pytest.mark.parametrize("student", ATTACKERS)
def test_an_attacker_is_reported_by_name(batch, student):
    attack = batch.attacks[student]
    result = batch.hostile.results[student]
    reported = kinds_of(result)
    assert attack.kinds <= set(integrity.KINDS)
    assert attack.kinds <= reported, f"{student}: missing {attack.kinds - reported}; got {reported}"
    assert reported <= set(integrity.KINDS)
    in_csv = {row["kind"] for row in batch.hostile.integrity_rows if row["student_id"] == student}
    assert attack.kinds <= in_csv
    listed = re.search(rf"^  {student}: (.*)$", batch.hostile.result.stdout, re.M)
    if attack.kinds:
        assert listed and attack.kinds <= set(listed.group(1).split(", ")), batch.hostile.result.stdout
    else:  # nothing to report, and nothing reported
        assert not listed and reported == set(), result["notebooks"][0]["integrity"]
    if student != "channel_tamper":  # nobody is accused of what they did not do
        assert "tampered with the grading channel" not in reported, result["notebooks"][0]["integrity"]


@pytest.mark.parametrize("student", [s for s in ATTACKERS if DECLARED[s].stopped_at])
def test_tests_that_could_not_run_say_why(batch, student):
    attack = batch.attacks[student]
    result = batch.hostile.results[student]
    tests = by_test(result)
    order = list(PARTS)
    for part in order[order.index(attack.stopped_at):]:
        assert tests[part]["status"] == "not run" and tests[part]["score"] == 0, tests[part]
        assert tests[part]["message"].startswith("Not run: ") and len(tests[part]["message"]) > 20, tests[part]
    for part in order[:order.index(attack.stopped_at)]:
        assert tests[part]["status"] in ("passed", "failed"), tests[part]
    assert result["notebooks"][0]["problems"], result
    assert f"  {student}: " in batch.hostile.result.stderr  # named among the problems of the batch


@pytest.mark.parametrize("student", sorted(EDITED_CELLS))
def test_edited_test_cells_are_restored_and_named(batch, student):
    result = batch.hostile.results[student]
    warnings = result["notebooks"][0]["cell_warnings"]
    for cell, kind in EDITED_CELLS[student].items():
        assert any(w.startswith(f"{cell}: {kind}") for w in warnings), f"{cell} ({kind}) not in {warnings}"
    tests = by_test(result)
    assert set(tests) == set(PARTS) | {"written_two_valleys"}  # graded once each, none added or lost
    assert {t["grade_id"]: t["points"] for t in tests.values()} == {**PARTS, "written_two_valleys": 3.0}
    autograded = nbformat.read(batch.hostile.course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    source = nbformat.read(notebook_path(batch.hostile.course / "source", ASSIGNMENT), as_version=4)
    assert graded_cells(autograded) == graded_cells(source)  # the instructor's tests, once each, in order


def test_a_number_displayed_by_a_hook_is_not_a_score(batch):
    autograded = nbformat.read(batch.hostile.course / "autograded" / "ipython_hooks" / ASSIGNMENT
                               / f"{ASSIGNMENT}.ipynb", as_version=4)
    shown = [o for c in autograded.cells if not c.metadata.get("nbgrader", {}).get("grade")
             for o in c.get("outputs", []) if o.output_type in ("display_data", "execute_result")]
    assert shown, "the hook's numbers should be kept in the student's own cells, as evidence"
    for cell in autograded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            kinds = {o.output_type for o in cell.outputs}
            assert kinds <= {"stream", "error"}, (cell.metadata.nbgrader["grade_id"], cell.outputs)
    assert float(batch.hostile.rows["ipython_hooks"]["test_numerical_derivative"]) == 0


def test_a_rigged_class_is_reported_from_its_code_and_while_running(batch):
    """Quiet is made with type(): the code scan reads the methods in the call, the worker their compiled code."""
    findings = batch.hostile.results["rigged_objects"]["notebooks"][0]["integrity"]
    rigged = {(f["seen"], f["detail"]) for f in findings if f["kind"] == "rigged comparison object"}
    assert ("in the code", "class Quiet made with type(): __eq__ always returns True") in rigged, rigged
    assert ("while running", "class Quiet: __eq__ always returns True") in rigged, rigged
    assert ("in the code", "class Anything: __eq__ always returns True; __ne__ always returns False; "
                           "__lt__ always returns False; __gt__ always returns False") in rigged, rigged
    assert float(batch.hostile.rows["rigged_objects"]["score"]) == 0


def test_changing_the_arguments_in_place_earns_nothing(batch):
    """The grader writes back what a function did to its arguments; the tests pass copies, so zeroing x0 is no help."""
    row = batch.hostile.rows["mutate_arguments"]
    assert part_scores(row) == {part: 0.0 for part in PARTS}, row


def test_a_statement_too_deep_to_walk_hides_nothing_from_the_code_scan(batch):
    findings = batch.hostile.results["patch_numpy"]["notebooks"][0]["integrity"]
    scanned = {f["detail"] for f in findings if f["seen"] == "in the code"}
    expected = {"assigns np.allclose", "assigns numpy.testing.assert_allclose", "assigns autograder.assert_close"}
    assert expected <= scanned, scanned  # all after the deep statement


def test_no_submission_or_instructor_file_changed(batch):
    for name in batch.before:
        assert batch.after[name] == batch.before[name], f"{name} changed during the hostile batch"
    victim = notebook_path(batch.hostile.inbox / VICTIM, ASSIGNMENT)
    assert nbformat.read(victim, as_version=4).cells, "the victim's submission is no longer a notebook"


def test_nothing_an_attack_started_survives_the_batch(batch):
    time.sleep(5)  # the background attack waits 2 s, then tries every half second for 40 s
    assert sha256(batch.hostile.course / "gradebook.db") == batch.gradebook_hash
    assert gradebook_scores(batch.hostile.course / "gradebook.db") == batch.gradebook
    assert fingerprint(batch.hostile.inbox) == batch.before["inbox"]
    for student, row in batch.hostile.rows.items():  # the gradebook holds what the CSV reported
        for part in PARTS:
            assert batch.gradebook[(student, part)][0] == float(row[part]), (student, part)
    # Controls: the attacks' processes did run (inside the sandboxes) while the batch was graded, and the
    # sandboxes themselves are found by the folder their command lines name.
    assert len(batch.hostile.attack_processes) >= 3, batch.hostile.attack_processes
    assert len(batch.hostile.sandbox_processes) >= 3, batch.hostile.sandbox_processes
    for pattern in (MARKER, str(batch.hostile.course.parent / "tmp")):
        assert running(pattern) == [], f"processes matching {pattern} still run"
    assert not list((batch.hostile.course.parent / "tmp").iterdir())  # every sandbox folder was removed


def test_control_the_background_attack_would_do_harm_unsandboxed(tmp_path):
    """The payload of the background attack, run here on copies: it does give 100 points and wreck a file."""
    database, victim = tmp_path / "gradebook.db", tmp_path / "victim.ipynb"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE grade (auto_score FLOAT, manual_score FLOAT)")
        connection.execute("INSERT INTO grade VALUES (0, NULL)")
        connection.commit()
    victim.write_text("a notebook")
    subprocess.run([sys.executable, "-c", payload(database, victim, wait=0, seconds=0.2)], check=True, timeout=60)
    with closing(sqlite3.connect(database)) as connection:
        assert connection.execute("SELECT auto_score, manual_score FROM grade").fetchall() == [(100, 100)]
    assert victim.read_text() == "{}"
