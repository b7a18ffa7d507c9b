"""Suspicious acts in a submission, named for the instructor.

Findings come from two places: reading the student's code before it runs (:func:`scan`), and what the grader
and the sandboxed process observed while it ran (see :mod:`autograder.runner` and :mod:`autograder.sandbox.worker`).
They never change a score by themselves: scores come only from the tests. They tell an instructor which
submissions to look at, and why.
"""

from __future__ import annotations

import ast
import dis
import re
from dataclasses import dataclass

# Every kind of finding, with what it means; reports and tests use these names.
KINDS = {
    "patched numpy": "replaced NumPy functions such as np.allclose or numpy.testing",
    "patched builtins": "replaced Python builtins",
    "patched grading helpers": "replaced functions of the autograder package",
    "rigged comparison object": "defined a class whose comparisons answer without looking at the other value "
                                "(an __eq__ that always returns True, a __bool__ that is always True)",
    "installed IPython hooks": "registered IPython transformers or event callbacks",
    "tried to read course files": "opened (or named) instructor notebooks, the gradebook or files outside its "
                                  "folder",
    "tried to change other files": "removed, renamed or changed files outside its folder",
    "started a background process": "started processes or threads",
    "sent signals": "sent signals to processes",
    "ended the process early": "exited the interpreter or killed its process",
    "changed signal handlers": "changed or ignored the handlers of interrupts and timers",
    "installed a trace function": "set sys.settrace or sys.setprofile",
    "inspected the interpreter": "walked interpreter frames or objects, or loaded ctypes",
    "tried the network": "opened network connections",
    "ran past the time limit": "a cell or function was stopped at the time limit",
    "ignored the time limit": "kept running past the time limit and was killed",
    "exhausted memory": "ran out of memory",
    "exhausted processes": "could not start more processes",
    "flooded output": "printed more than the output limit",
    "tampered with the grading channel": "sent the grader malformed messages",
    "edited a test cell": "changed a test cell (restored)",
    "cell structure changed": "deleted, duplicated, re-labelled or re-typed graded cells, or changed their metadata",
}
CELL_KINDS = {"edited test cell": "edited a test cell"}  # cell repairs that get their own name
# Methods through which an object could decide a check's outcome, and what gives a rigged one away: "compare"
# answers the same constant every time or never looks at its argument, "truth" is always true, "constant" always
# gives the same answer. An honest class with operators (or a dataclass's generated __eq__) does none of these.
RIGGABLE = {"__eq__": "compare", "__ne__": "compare", "__lt__": "compare", "__le__": "compare", "__gt__": "compare",
            "__ge__": "compare", "__sub__": "compare", "__rsub__": "compare", "__bool__": "truth",
            "__array_ufunc__": "constant", "__array_function__": "constant"}
HOOK_ATTRIBUTES = {"ast_transformers", "input_transformers_post", "input_transformers_cleanup",
                   "input_transformer_manager", "register_magic_function", "set_custom_exc", "display_pub",
                   "displayhook", "showtraceback", "run_cell", "events"}
PROCESS_CALLS = {("os", "fork"), ("os", "forkpty"), ("os", "system"), ("os", "popen"), ("os", "posix_spawn"),
                 ("os", "posix_spawnp"), ("os", "spawnl"), ("os", "spawnv"), ("os", "execv"), ("os", "execl"),
                 ("os", "execvp"), ("pty", "spawn"), ("threading", "Thread"), ("_thread", "start_new_thread")}
PROCESS_MODULES = {"subprocess", "multiprocessing", "concurrent"}
EXIT_CALLS = {("sys", "exit"), ("os", "_exit"), ("os", "abort"), ("os", "kill"), ("os", "killpg"),
              ("signal", "raise_signal"), ("signal", "pthread_kill")}
SIGNAL_CALLS = {("signal", "signal"), ("signal", "setitimer"), ("signal", "alarm"), ("signal", "pthread_sigmask"),
                ("signal", "siginterrupt")}
INSPECT_CALLS = {("sys", "_getframe"), ("inspect", "currentframe"), ("inspect", "stack"), ("gc", "get_objects"),
                 ("gc", "get_referrers"), ("sys", "_current_frames"), ("inspect", "getouterframes")}
TRACE_CALLS = {("sys", "settrace"), ("sys", "setprofile"), ("threading", "settrace")}
COURSE_NAMES = ("gradebook", "nbgrader_config")  # in a file name, wherever it is
COURSE_FOLDERS = re.compile(r"(^|/)(source|submitted|autograded|exchange)(/|$)|\.ipynb$")  # in a path with a folder
NETWORK_MODULES = {"socket", "urllib", "http", "requests", "ftplib", "smtplib"}


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of KINDS
    cell: str  # grade id or "cell N"
    detail: str
    seen: str  # "in the code" (read before running) or "while running"

    def __str__(self) -> str:
        return f"{self.kind} [{self.cell}, {self.seen}]: {self.detail}"


def rigging(method: str, answers: list[tuple], reads_argument: bool | None) -> str | None:
    """Why a special method is rigged, or None; the same rule for source code and compiled code.

    answers: one per way the method can return: ("constant", value), ("defer",) for None or NotImplemented
        (which lets Python decide), ("computed",) for anything else
    reads_argument: whether its (second) argument is ever read; None when it takes none
    """
    role = RIGGABLE.get(method)
    if role is None or not answers:
        return None
    constants = {repr(answer[1]) for answer in answers if answer[0] == "constant"}
    if len(constants) == 1 and all(answer[0] == "constant" for answer in answers):
        value = next(answer[1] for answer in answers)
        if role != "truth" or value:
            return f"{method} always returns {value!r}"
    if role == "compare" and reads_argument is False and any(answer[0] != "defer" for answer in answers):
        return f"{method} ignores its argument"
    return None


def _constant_answer(value) -> tuple:
    return ("defer",) if value is None else ("constant", value)


def _own_nodes(node):
    """The nodes of a function's body, without those of functions and classes nested in it."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield child
            yield from _own_nodes(child)


def _function_rigging(method: str, function) -> str | None:
    """The rule of :func:`rigging` applied to a ``def`` or ``lambda`` in the source."""
    if isinstance(function, ast.AsyncFunctionDef) or method not in RIGGABLE:
        return None
    if isinstance(function, ast.Lambda):
        values, falls_off = [function.body], False
    else:
        nodes = list(_own_nodes(function))
        if any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in nodes):
            return None
        values = [node.value for node in nodes if isinstance(node, ast.Return)]
        falls_off = not isinstance(function.body[-1], (ast.Return, ast.Raise))
    answers = []
    for value in values:
        if value is None or isinstance(value, ast.Name) and value.id == "NotImplemented":
            answers.append(("defer",))
        elif isinstance(value, ast.Constant):
            answers.append(_constant_answer(value.value))
        else:
            answers.append(("computed",))
    if falls_off:
        answers.append(("defer",))
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    name = positional[1].arg if len(positional) >= 2 else arguments.vararg.arg if arguments.vararg else None
    names = {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    reads = None if name is None else bool(names & {name, "locals", "vars", "eval", "exec"})
    return rigging(method, answers, reads)


_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator


def code_rigging(method: str, code) -> str | None:
    """The rule of :func:`rigging` applied to a method's compiled code (a class made at run time, with type())."""
    if method not in RIGGABLE or code.co_flags & _GENERATOR_FLAGS:
        return None
    try:
        instructions = list(dis.get_instructions(code))
    except Exception:
        return None
    answers = []
    for before, instruction in zip([None, *instructions], instructions):
        if instruction.opname == "RETURN_CONST":
            answers.append(_constant_answer(instruction.argval))
        elif instruction.opname == "RETURN_VALUE":
            if instruction.is_jump_target or before is None:  # the value may come from another path
                answers.append(("computed",))
            elif before.opname == "LOAD_CONST":
                answers.append(_constant_answer(before.argval))
            elif before.opname in ("LOAD_GLOBAL", "LOAD_NAME") and before.argval == "NotImplemented":
                answers.append(("defer",))
            else:
                answers.append(("computed",))
    varargs = code.co_flags & 0x04
    name = code.co_varnames[1] if code.co_argcount >= 2 else \
        code.co_varnames[code.co_argcount + code.co_kwonlyargcount] if varargs else None
    reads = None
    if name is not None:
        reads = name in code.co_cellvars or any(
            instruction.opname.startswith("LOAD") and (
                ("FAST" in instruction.opname or "DEREF" in instruction.opname)
                and (instruction.argval == name or isinstance(instruction.argval, tuple) and name in instruction.argval)
                or instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
                and instruction.argval in ("locals", "vars", "eval", "exec"))
            for instruction in instructions)
    return rigging(method, answers, reads)


def class_rigging(cls: type, whose=lambda code: True) -> list[str]:
    """Why a class is rigged (its own special methods, by :func:`code_rigging`); empty for an honest class.

    whose: which methods count, given their code (the worker counts only the student's, not a library's)
    """
    try:
        namespace = type.__dict__["__dict__"].__get__(cls)  # as type stores it: a metaclass cannot hide a method
    except Exception:
        return []
    reasons = []
    for method in RIGGABLE:
        code = getattr(namespace.get(method), "__code__", None)
        if isinstance(code, type(class_rigging.__code__)) and whose(code):
            reason = code_rigging(method, code)
            if reason:
                reasons.append(reason)
    return reasons


def course_path(text: str) -> bool:
    """Whether a string names course files: a notebook or course folder in a path, or the gradebook."""
    for token in re.split(r"[\s'\"`,;()\[\]{}=]+", text.lower()):
        if not token or token.startswith(("http://", "https://")):
            continue
        if any(name in token for name in COURSE_NAMES) or "/" in token and COURSE_FOLDERS.search(token):
            return True
    return False


def python_source(cell_source: str) -> str:
    """Cell source with IPython syntax (magics, !commands) turned into the Python it runs."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:
        return cell_source


def _root_and_chain(node) -> tuple[str | None, list[str]]:
    """For ``a.b.c`` return ("a", ["b", "c"]); calls in the chain are looked through (``f().x`` -> f)."""
    chain = []
    while True:
        if isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            break
    return (node.id if isinstance(node, ast.Name) else None), chain


class _Scanner(ast.NodeVisitor):
    def __init__(self):
        self.modules = {"np": "numpy", "numpy": "numpy", "builtins": "builtins", "__builtins__": "builtins"}
        self.found: list[tuple[str, str]] = []

    def add(self, kind: str, detail: str) -> None:
        if (kind, detail) not in self.found:
            self.found.append((kind, detail))

    def module_of(self, name: str | None) -> str | None:
        return self.modules.get(name) if name else None

    def visit_Import(self, node):
        for alias in node.names:
            top = alias.name.split(".")[0]
            self.modules[alias.asname or top] = alias.name if alias.asname else top
            self._imported(alias.name)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        self._imported(module)
        for alias in node.names:
            self.modules[alias.asname or alias.name] = f"{module}.{alias.name}"
            if module.split(".")[0] in ("os", "sys", "signal", "gc", "inspect", "threading", "_thread", "pty"):
                self._call(module.split(".")[0], alias.name, f"from {module} import {alias.name}")

    def _imported(self, module: str) -> None:
        top = module.split(".")[0]
        if top in PROCESS_MODULES:
            self.add("started a background process", f"imports {module}")
        elif top == "ctypes":
            self.add("inspected the interpreter", "imports ctypes")
        elif top in NETWORK_MODULES:
            self.add("tried the network", f"imports {module}")

    def _target(self, node, verb: str) -> None:
        root, chain = _root_and_chain(node)
        module = self.module_of(root) or ""
        text = ".".join([root or "?", *chain])
        if isinstance(node, ast.Subscript) and root == "__builtins__":
            self.add("patched builtins", f"{verb} {text}[...]")
        elif not chain:
            return
        elif module.startswith("numpy"):
            self.add("patched numpy", f"{verb} {text}")
        elif module.startswith("builtins"):
            self.add("patched builtins", f"{verb} {text}")
        elif module.startswith("autograder"):
            self.add("patched grading helpers", f"{verb} {text}")
        elif set(chain) & HOOK_ATTRIBUTES and (root == "get_ipython" or "get_ipython" in text):
            self.add("installed IPython hooks", f"{verb} {text}")

    def visit_Assign(self, node):
        for target in node.targets:
            for part in (target.elts if isinstance(target, ast.Tuple) else [target]):
                self._target(part, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, "changes")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, "deletes")
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        reasons: dict[str, str] = {}
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in RIGGABLE:
                reason = _function_rigging(item.name, item)
                if reason:
                    reasons[item.name] = reason
            elif isinstance(item, ast.Assign):  # __eq__ = lambda self, other: True; __le__ = __ge__ = __eq__
                for target in item.targets:
                    if not isinstance(target, ast.Name) or target.id not in RIGGABLE:
                        continue
                    if isinstance(item.value, ast.Lambda):
                        reason = _function_rigging(target.id, item.value)
                    elif isinstance(item.value, ast.Name) and item.value.id in reasons:
                        reason = reasons[item.value.id].replace(item.value.id, target.id, 1)
                    else:
                        reason = None
                    if reason:
                        reasons[target.id] = reason
        if reasons:
            self.add("rigged comparison object", f"class {node.name}: {'; '.join(list(reasons.values())[:4])}")
        self.generic_visit(node)

    def _made_class(self, node) -> None:
        """type("Name", bases, {"__eq__": lambda self, other: True}): a class made by a call."""
        if len(node.args) != 3 or not isinstance(node.args[2], ast.Dict):
            return
        name = node.args[0].value if isinstance(node.args[0], ast.Constant) else "?"
        reasons = [_function_rigging(key.value, value) for key, value in zip(node.args[2].keys, node.args[2].values)
                   if isinstance(key, ast.Constant) and isinstance(value, ast.Lambda)
                   and isinstance(key.value, str)]
        reasons = [reason for reason in reasons if reason]
        if reasons:
            self.add("rigged comparison object", f"class {name} made with type(): {'; '.join(reasons[:4])}")

    def visit_Raise(self, node):
        root, _ = _root_and_chain(node.exc) if node.exc is not None else (None, [])
        if root in ("SystemExit", "KeyboardInterrupt"):
            self.add("ended the process early", f"raises {root}")
        self.generic_visit(node)

    def _call(self, module: str, name: str, text: str) -> None:
        pair = (module, name)
        if pair in PROCESS_CALLS:
            self.add("started a background process", f"calls {text}")
        elif pair in EXIT_CALLS:
            self.add("ended the process early", f"calls {text}")
        elif pair in SIGNAL_CALLS:
            self.add("changed signal handlers", f"calls {text}")
        elif pair in INSPECT_CALLS:
            self.add("inspected the interpreter", f"calls {text}")
        elif pair in TRACE_CALLS:
            self.add("installed a trace function", f"calls {text}")

    def visit_Call(self, node):
        function = node.func
        root, chain = _root_and_chain(function)
        text = ".".join([root or "?", *chain])
        module = self.module_of(root) or root or ""
        if isinstance(function, ast.Name) and function.id == "type":
            self._made_class(node)
        if isinstance(function, ast.Name) and function.id in ("exit", "quit"):
            self.add("ended the process early", f"calls {function.id}()")
        elif isinstance(function, ast.Name) and function.id in ("setattr", "delattr") and node.args:
            self._target(ast.Attribute(value=node.args[0], attr="?"), f"{function.id} on")
        elif isinstance(function, ast.Name) and "." in module:
            self._call(*module.split(".")[:2], text)
        elif chain:
            self._call(module.split(".")[0], chain[-1], text)
            if set(chain) & HOOK_ATTRIBUTES and "get_ipython" in text:
                self.add("installed IPython hooks", f"calls {text}")
            if module.split(".")[0] in PROCESS_MODULES:
                self.add("started a background process", f"calls {text}")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in ("f_back", "f_globals", "f_locals", "gi_frame", "tb_frame", "__subclasses__", "__globals__"):
            self.add("inspected the interpreter", f"uses .{node.attr}")
        self.generic_visit(node)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string: it does nothing, whatever it mentions
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and course_path(node.value):
            self.add("tried to read course files", f"mentions {node.value[:80]!r}")


def scan(label: str, source: str) -> list[Finding]:
    """Findings in one cell of student code (an unparsable cell has none: it fails when run)."""
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    scanner = _Scanner()
    for statement in tree.body:  # one at a time: a statement nested too deeply to walk hides no other
        try:
            scanner.visit(statement)
        except RecursionError:
            pass
    return [Finding(kind, label, detail, "in the code") for kind, detail in scanner.found]


def bound_names(source: str) -> set[str]:
    """Names a cell binds at the top level (functions, classes, assignments, imports, loop variables)."""
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def loaded_names(source: str) -> set[str]:
    """Every name a cell reads, anywhere (lambdas and comprehensions included)."""
    try:
        tree = ast.parse(python_source(source))
    except (SyntaxError, ValueError):
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
