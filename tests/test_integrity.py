"""Integrity findings name what the student's code did, and nothing else.

Honest work gives no finding: the instructor's solutions, classes with operators, dataclasses, scikit-learn,
matplotlib, the course's data loaders, NumPy's random generators, files in the notebook's own folder. Libraries
do some of what an attack does (psutil reads /proc/stat, threadpoolctl loads libraries with ctypes); that is
theirs, not the student's. Every kind of finding is shown to fire on its attack: read from the code, observed
while the notebook runs (here, with the attack hidden from the code scan), or in test_adversarial.py's batch
(see ``WHERE_EACH_KIND_FIRES``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
import pytest

from autograder import integrity
from autograder.runner import Limits, grade_notebook
from conftest import ASSIGNMENT, ROOT, notebook_path

ASSIGNMENTS = sorted(path.name for path in (ROOT / "source").iterdir() if path.is_dir())
LIMITS = Limits(cell_seconds=30, notebook_seconds=240)


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


# Honest cells, by the word each prints when it ran to the end.
HONEST = {
    "operators": code('''
        from dataclasses import dataclass, field

        class Value:
            """A scalar that remembers how it was made (as in micrograd)."""
            def __init__(self, data, children=()):
                self.data, self.children = data, children
            def __add__(self, other):
                other = other if isinstance(other, Value) else Value(other)
                return Value(self.data + other.data, (self, other))
            __radd__ = __add__
            def __neg__(self):
                return Value(-self.data, (self,))
            def __sub__(self, other):
                return self + (-other if isinstance(other, Value) else -Value(other))
            def __eq__(self, other):
                return isinstance(other, Value) and self.data == other.data
            def __hash__(self):
                return id(self)
            def __lt__(self, other):
                return self.data < (other.data if isinstance(other, Value) else other)
            def __bool__(self):
                return self.data != 0

        @dataclass(order=True)
        class Config:
            learning_rate: float = 0.1
            num_steps: int = 100
            widths: list = field(default_factory=lambda: [64, 32])

        class Tensor:
            __array_ufunc__ = None  # NumPy defers to this class's operators
            def __init__(self, array):
                self.array = np.asarray(array, dtype=float)
            def __matmul__(self, other):
                return Tensor(self.array @ other.array)
            def __array__(self, dtype=None, copy=None):
                return self.array
            def __eq__(self, other):
                if not isinstance(other, Tensor):
                    return NotImplemented
                return bool(np.array_equal(self.array, other.array))
            def __ne__(self, other):
                return not self == other
            __hash__ = None

        total = Value(2.0) + Value(3.0) - 1.0
        configs = sorted([Config(0.2), Config(0.1)])
        product = np.asarray(Tensor([1.0, 2.0]) @ Tensor([3.0, 4.0]))
        print("operators", total.data, Value(1.0) < Value(2.0), configs[0] == Config(0.1), float(product),
              Tensor([1]) != Tensor([2]))
        '''),
    "libraries": code('''
        import sklearn
        from nnfs.data import load_digits, train_test_split
        from nnfs.mlp import MLP
        from sklearn.cluster import KMeans
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score
        from threadpoolctl import threadpool_limits

        X_train, y_train, X_test, y_test = load_digits()
        classifier = LogisticRegression(max_iter=200).fit(X_train[:300], y_train[:300])
        with threadpool_limits(limits=1):
            clusters = KMeans(n_clusters=3, n_init=1, random_state=0).fit(X_train[:200])
        # n_jobs: scikit-learn starts processes and threads of its own, which outlive the cell
        scores = cross_val_score(LogisticRegression(max_iter=100), X_train[:300], y_train[:300], cv=3, n_jobs=2)
        print("libraries", sklearn.__version__ != "", round(classifier.score(X_test, y_test), 1) > 0.5,
              len(set(clusters.labels_)), len(scores))
        '''),
    "plots": code('''
        import matplotlib.pyplot as plt

        rng = np.random.default_rng(0)
        np.random.seed(1)
        walk = np.cumsum(rng.normal(size=100) + np.random.randn(100))
        fig, ax = plt.subplots()
        ax.plot(walk, label="random walk")
        ax.legend()
        ax.set_title("A random walk")
        fig.savefig("walk.png")
        plt.show()
        print("plots", walk.shape)
        '''),
    "magics": code('''
        %time total = sum(range(1000))
        %timeit -n 1 -r 1 sorted(range(100))
        !echo a shell command left in the notebook
        print("magics", total)
        '''),
    "files": code('''
        import json
        import os
        import pathlib
        import tempfile

        def summarize(history):
            """Like the plot in lesson_02_backpropagation.ipynb; see source/ in the course's repository."""
            return {"final": float(history[-1])}

        with tempfile.TemporaryDirectory() as scratch:
            path = pathlib.Path(scratch) / "history.json"
            path.write_text(json.dumps(summarize([1.0, 2.0])))
            loaded = json.loads(path.read_text())
        np.save("weights.npy", np.ones(3))
        pathlib.Path("notes.txt").write_text("mine")
        os.remove("notes.txt")
        print("Lesson 2 (lesson_02_backpropagation.ipynb) trains the same network.")
        print("files", loaded, np.load("weights.npy").sum(), os.cpu_count() is not None)
        '''),
}

# Attacks hidden from the code scan (names and paths put together at run time): only the running notebook
# shows them. Each: the cell, then the kinds it must be reported as, with words of each finding's detail.
HIDDEN = {
    "signal": (code('''
        system = __import__("o" + "s")
        getattr(system, "ki" + "ll")(system.getpid(), 0)  # signal 0: only asks whether the process exists
        '''), [("sent signals", "os.kill")]),
    "trace": (code('''
        getattr(__import__("s" + "ys"), "set" + "trace")(lambda *details: None)
        '''), [("installed a trace function", "settrace")]),
    "gc": (code('''
        everything = getattr(__import__("g" + "c"), "get_" + "objects")()
        '''), [("inspected the interpreter", "gc.get_objects")]),
    "frame": (code('''
        here = getattr(__import__("s" + "ys"), "_get" + "frame")()
        '''), [("inspected the interpreter", "sys._getframe")]),
    "ctypes": (code('''
        libc = __import__("ct" + "ypes").CDLL(None)
        '''), [("inspected the interpreter", "ctypes.dlopen")]),
    "memory": (code('''
        try:
            with open("/proc/self/" + "mem", "rb") as handle:
                pass
        except OSError:
            pass
        '''), [("inspected the interpreter", "/proc/self/mem")]),
    "network": (code('''
        try:
            getattr(__import__("soc" + "ket"), "create_connection")(("127.0.0.1", 9), timeout=1)
        except OSError:
            pass
        '''), [("tried the network", "socket.connect")]),
    "remove": (code('''
        try:
            getattr(__import__("o" + "s"), "re" + "move")("/opt/" + "elsewhere")
        except OSError:
            pass
        '''), [("tried to change other files", "/opt/elsewhere")]),
    "pathlib": (code('''
        import pathlib
        try:
            pathlib.Path("/work/" + "grade" + "book.db").read_bytes()
        except OSError:
            pass
        '''), [("tried to read course files", "/work/gradebook.db")]),
    "library": (code('''
        try:  # a library opens the file, at the student's request
            np.load("/" + "sou" + "rce/ps1/ps1.ipy" + "nb")
        except OSError:
            pass
        '''), [("tried to read course files", "ps1.ipynb")]),
    "thread": (code('''
        def keep_going():
            while True:
                __import__("time").sleep(0.05)

        getattr(__import__("thre" + "ading"), "Thr" + "ead")(target=keep_going, daemon=True).start()
        '''), [("started a background process", "1 thread(s) still running")]),
    "made_class": (code('''
        exec("class Sneaky:\\n    def __eq__(self, other):\\n        return True")
        '''), [("rigged comparison object", "class Sneaky: __eq__ always returns True")]),
    "own_module": (code('''
        import importlib.util
        import pathlib
        # Code in a file of its own folder is the student's, like a cell's.
        pathlib.Path("helper.py").write_text(
            "import os\\n"
            "def snoop():\\n"
            "    os.system('true')\\n"
            "    try:\\n"
            "        open('/o' + 'pt/secret.txt')\\n"
            "    except OSError:\\n"
            "        pass\\n")
        spec = importlib.util.spec_from_file_location("helper", "helper.py")
        helper = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(helper)
        helper.snoop()
        '''), [("started a background process", "os.system"),
               ("tried to read course files", "/opt/secret.txt (outside its folder)")]),
    "disguised": (code('''
        # Code compiled under a library's file name, with that module's globals, is still the student's.
        library_file = np.__file__
        exec(compile("__import__('g' + 'c').get_referrers(np)", library_file, "exec"),
             {"__file__": library_file, "np": np})
        '''), [("inspected the interpreter", "gc.get_referrers")]),
}

# Attacks in plain sight: the code scan names them before the notebook runs.
IN_THE_CODE = {
    "patched numpy": "np.allclose = lambda *args, **kwargs: True",
    "patched builtins": "import builtins\nbuiltins.len = lambda value: 0",
    "patched grading helpers": "import autograder\nautograder.assert_close = lambda *args, **kwargs: None",
    "rigged comparison object": "class Anything:\n    def __eq__(self, other):\n        return True",
    "installed IPython hooks": "get_ipython().ast_transformers.append(object())",
    "tried to read course files": "open('../source/ps1_gradient_descent/ps1_gradient_descent.ipynb')",
    "started a background process": "import subprocess\nsubprocess.run(['ls'])",
    "ended the process early": "import os\nos._exit(0)",
    "changed signal handlers": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
    "installed a trace function": "import sys\nsys.settrace(lambda *args: None)",
    "inspected the interpreter": "import sys\nframe = sys._getframe().f_back",
    "tried the network": "import socket",
}

# Kinds test_adversarial.py's batch shows, each with an attacker that the batch asserts is reported by that kind;
# the limits, the channel and edited cells only a grading run can show.
IN_THE_BATCH = {
    "ran past the time limit": "loop_in_function",
    "ignored the time limit": "loop_in_cell",
    "exhausted memory": "exhaust_memory",
    "exhausted processes": "fork_bomb",
    "flooded output": "flood_output",
    "tampered with the grading channel": "channel_tamper",
    "edited a test cell": "edit_tests_a",
    "cell structure changed": "edit_tests_b",
    "ended the process early": "exit_os",
    "patched numpy": "patch_numpy",
    "patched builtins": "patch_builtins",
    "patched grading helpers": "patch_numpy",
    "rigged comparison object": "rigged_objects",
    "installed IPython hooks": "ipython_hooks",
    "tried to read course files": "read_course_files",
    "started a background process": "background_process",
    "changed signal handlers": "loop_in_cell",
}


def where_it_fires(kind: str) -> list[str]:
    """The tests that show a kind of finding firing on its attack."""
    where = [f"test_integrity.py, code scan of {IN_THE_CODE[kind]!r}"] if kind in IN_THE_CODE else []
    where += [f"test_integrity.py, hidden attack {name!r}" for name, (_, expected) in HIDDEN.items()
              if kind in dict(expected)]
    if kind in IN_THE_BATCH:
        where.append(f"test_adversarial.py, attacker {IN_THE_BATCH[kind]!r}")
    return where


WHERE_EACH_KIND_FIRES = {kind: where_it_fires(kind) for kind in integrity.KINDS}

# Classes whose special methods are, or are not, rigged: the code scan and the worker (which reads the compiled
# methods of a class made at run time) must agree.
CLASSES = {
    "eq always true": ("class A:\n    def __eq__(self, other):\n        return True", True),
    "eq ignores other": ("class A:\n    def __eq__(self, other):\n        return self.value > 0", True),
    "eq by lambda": ("class A:\n    __eq__ = lambda self, other: True", True),
    "ne always false": ("class A:\n    def __ne__(self, other):\n        return False", True),
    "eq with varargs": ("class A:\n    def __eq__(self, *others):\n        return 1", True),
    "sub ignores other": ("class A:\n    def __sub__(self, other):\n        return 0.0", True),
    "bool always true": ("class A:\n    def __bool__(self):\n        return True", True),
    "array ufunc constant": ("class A:\n    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):\n"
                             "        return True", True),
    "eq compares": ("class A:\n    def __eq__(self, other):\n        return self.value == other.value", False),
    "eq defers": ("class A:\n    def __eq__(self, other):\n        return NotImplemented", False),
    "eq raises": ("class A:\n    def __eq__(self, other):\n        raise TypeError('not comparable')", False),
    "eq in a branch": ("class A:\n    def __eq__(self, other):\n        if isinstance(other, A):\n"
                       "            return self.v == other.v\n        return False", False),
    "bool always false": ("class A:\n    def __bool__(self):\n        return False", False),
    "bool from state": ("class A:\n    def __bool__(self):\n        return self.size > 0", False),
    "ufunc opt-out": ("class A:\n    __array_ufunc__ = None", False),
    "add ignores other": ("class A:\n    def __add__(self, other):\n        return self", False),
    "eq reads other in a closure": ("class A:\n    def __eq__(self, other):\n"
                                    "        return all(x == y for x, y in zip(self, other))", False),
    "dataclass": ("from dataclasses import dataclass\n@dataclass(order=True)\nclass A:\n    x: float = 0.0", False),
}


def build(cells: list[str], base: str = "source") -> nbformat.NotebookNode:
    """The ps1 notebook (the instructor's solutions, or the released stubs) with ordinary cells added after the
    one that imports NumPy."""
    notebook = nbformat.read(notebook_path(ROOT / base, ASSIGNMENT), as_version=4)
    after = next(i for i, cell in enumerate(notebook.cells) if "import numpy as np" in cell.source)
    for offset, source in enumerate(cells, start=1):
        notebook.cells.insert(after + offset, nbformat.v4.new_code_cell(source))
    return notebook


def grade(tmp_path: Path, notebook: nbformat.NotebookNode):
    submitted = notebook_path(tmp_path / "student", ASSIGNMENT)
    submitted.parent.mkdir(parents=True)
    nbformat.write(notebook, submitted)
    return grade_notebook("student", ASSIGNMENT, submitted, notebook_path(ROOT / "source", ASSIGNMENT),
                          notebook_path(ROOT / "assignments", ASSIGNMENT), LIMITS,
                          ROOT / "assignments" / ASSIGNMENT)


def outputs_of(result, source: str) -> list:
    return next(cell.outputs for cell in result.autograded.cells if cell.source == source)


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_code_is_not_flagged_by_the_code_scan(name):
    assert integrity.scan(name, HONEST[name]) == []


def test_honest_code_gives_no_finding_when_it_runs(tmp_path):
    result = grade(tmp_path, build(list(HONEST.values())))
    for name, source in HONEST.items():
        outputs = outputs_of(result, source)
        assert not [o for o in outputs if o.output_type == "error"], (name, outputs)  # a control: it all ran
        printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
        assert f"\n{name} " in f"\n{printed}", (name, printed)
    assert result.findings == [], [str(f) for f in result.findings]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_instructors_solutions_give_no_finding(assignment):
    """ps2, ps4 and ps6 import scikit-learn through the course's data loader; ps6 uses threadpoolctl too."""
    result = grade_notebook("instructor", assignment, notebook_path(ROOT / "source", assignment),
                            notebook_path(ROOT / "source", assignment), notebook_path(ROOT / "assignments", assignment),
                            LIMITS, ROOT / "assignments" / assignment)
    assert result.findings == [], [str(f) for f in result.findings]
    assert result.score > 0 and not result.problems, (result.score, result.problems)  # a control: it was graded


@pytest.mark.parametrize("kind", sorted(IN_THE_CODE))
def test_the_code_scan_names_each_attack(kind):
    found = integrity.scan("cell", IN_THE_CODE[kind])
    assert {f.kind for f in found} == {kind}, [str(f) for f in found]


def test_hidden_attacks_are_seen_while_running(tmp_path):
    for name, (source, expected) in HIDDEN.items():
        scanned = {f.kind for f in integrity.scan(name, source)}
        assert not scanned & dict(expected).keys(), (name, scanned)  # hidden from the code scan
    result = grade(tmp_path, build([source for source, _ in HIDDEN.values()], base="assignments"))
    running = [f for f in result.findings if f.seen == "while running"]
    for name, (_, expected) in HIDDEN.items():
        for kind, words in expected:
            assert any(f.kind == kind and words in f.detail for f in running), (name, [str(f) for f in running])


def test_every_kind_of_finding_is_shown_to_fire():
    from test_adversarial import DECLARED

    missing = [kind for kind, where in WHERE_EACH_KIND_FIRES.items() if not where]
    assert missing == [], f"no test shows these kinds firing: {missing}"
    hidden = {kind for _, expected in HIDDEN.values() for kind, _ in expected}
    assert set(IN_THE_CODE) | hidden | set(IN_THE_BATCH) <= set(integrity.KINDS)
    for kind, attacker in IN_THE_BATCH.items():
        assert kind in DECLARED[attacker].kinds, (kind, attacker)  # the batch asserts the attacker is reported


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_rigged_classes_are_told_apart_from_honest_ones(name):
    source, rigged = CLASSES[name]
    scanned = [f for f in integrity.scan(name, source) if f.kind == "rigged comparison object"]
    namespace: dict = {}
    exec(source, namespace)
    compiled = integrity.class_rigging(namespace["A"])
    assert bool(scanned) == rigged, [str(f) for f in scanned]
    assert bool(compiled) == rigged, compiled


@pytest.mark.parametrize("text, named", [
    ("../source/ps1/ps1.ipynb", True), ("/tmp/course/gradebook.db", True), ("/*/*/submitted/*/*.ipynb", True),
    ("gradebook.db", True), ("sqlite3.connect('/x/gradebook.db')", True), ("/srv/exchange/course/inbound", True),
    ("see lesson_02.ipynb", False), ("source", False), ("data/resource/x.csv", False), ("*.ipynb", False),
    ("https://github.com/org/repo/blob/main/source/x.ipynb", False), ("open source software", False),
])
def test_strings_that_name_course_files(text, named):
    assert integrity.course_path(text) is named
