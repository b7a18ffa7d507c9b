"""Run a notebook's visible tests the way a student would want: pass/fail per test, non-zero exit on failure.

Students call it as ``autograder validate <notebook>`` and through JupyterLab's Validate button: the course's
nbgrader_config.py hands nbgrader's validator :func:`validate_dialog_hook`, so the button shows the same report.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_code_cell, new_output

from .notebooks import read_notebook

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# What nbgrader leaves in a written answer's cell of the student version (ClearSolutions.text_stub).
WRITTEN_STUB = "YOUR ANSWER HERE"
NOT_DEFINED = re.compile(r"name '(\w+)' is not defined")
TAGS = {"pass": "PASS", "fail": "FAIL", "todo": "TODO", "error": "ERROR", "done": "DONE"}


@dataclass
class CellResult:
    label: str
    # "pass", "fail", "todo" (solution not written yet), "error" (a non-test cell failed) or "done" (a written
    # answer is there: a person grades it)
    status: str
    points: float
    message: str = ""
    is_test: bool = True


# How IPython's tracebacks name a frame in a notebook cell: "Cell In[5], line 12, in conv2d_loop(x, w, b)", without
# ", in ..." at the cell's top level (frames in modules start "File ..." and are not the student's).
CELL_FRAME = re.compile(r"^Cell In\[(\d+)\], line (\d+)(?:, in ([\w.<>]+))?")


@dataclass
class Frame:
    execution_count: int  # the cell's In[...] number
    line: int
    function: str | None  # None at a cell's top level


def _frames(output) -> list[Frame]:
    """The frames in notebook cells of an error output's traceback, outermost first."""
    frames = []
    for part in output.get("traceback", []):
        for line in ANSI_ESCAPE.sub("", str(part)).splitlines():
            found = CELL_FRAME.match(line.strip())
            if found:
                function = found.group(3)
                frames.append(Frame(int(found.group(1)), int(found.group(2)),
                                    None if function in (None, "<module>") else function))
    return frames


def _is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _source_line(cell, line: int) -> str:
    lines = cell.source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _origin(output, notebook, index: int) -> list[str]:
    """Where an error came from, in the student's terms: their function (and cell) that raised it or, failing
    that, the line of the failing cell; [] when the traceback cannot be read."""
    cells = {cell.get("execution_count"): (position, cell) for position, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and cell.get("execution_count") is not None}
    located = [(frame, *cells[frame.execution_count]) for frame in _frames(output)
               if frame.execution_count in cells]
    # The student's frames: in their cells, which are not test cells (a test's own helpers are test code).
    theirs = [(frame, position, cell) for frame, position, cell in located
              if not _is_test_cell(cell) and (frame.function is not None or position == index)]
    if theirs:
        frame, position, cell = theirs[-1]
        source = _source_line(cell, frame.line)
        place = f"line {frame.line}" if position == index else f"{_cell_name(cell, position)}, line {frame.line}"
        if frame.function is None:
            lines = [f"raised at {place}"]
        else:
            callers = [f for f, _, _ in theirs[:-1] if f.function not in (None, frame.function)]
            called_by = f", called by {callers[-1].function}" if callers else ""
            lines = [f"raised in your function {frame.function} ({place}{called_by})"]
        return lines + ([f"    {source}"] if source else [])
    here = [frame for frame, position, _ in located if position == index]
    if here:
        source = _source_line(notebook.cells[index], here[-1].line)
        return [f"raised at line {here[-1].line} of this cell"] + ([f"    {source}"] if source else [])
    return []


def _cell_name(cell, index: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f'cell "{grade_id}"' if grade_id else f"cell {index + 1}"


def _error_text(output, notebook=None, index: int | None = None) -> str:
    """The error's type and message and, for errors other than a check's, where it was raised.

    A :class:`~autograder.checks.CheckFailure` message says what was checked; any other error is named with the
    student's function (and cell) it came from, or the failing line of the cell, so that an error deep inside
    NumPy still points at the student's code.
    """
    ename = output.get("ename", "Error")
    message = ANSI_ESCAPE.sub("", output.get("evalue", "")).strip()
    origin = _origin(output, notebook, index) if notebook is not None and ename != "CheckFailure" else []
    if origin:
        head, rest = origin[0], origin[1:]
        return "\n".join([f"{ename} {head}" + (f": {message}" if message else "")] + rest)
    if message:
        return f"{ename}: {message}"
    traceback = [ANSI_ESCAPE.sub("", line) for line in output.get("traceback", [])]
    return "\n".join(traceback[-3:]).strip() or ename


def _label(cell, index: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1}"


def run_notebook(path: Path, timeout: int = 60):
    """Execute a copy of the notebook on a fresh kernel (the file on disk is not changed)."""
    return execute(read_notebook(path), Path(path).resolve().parent, timeout)


def execute(notebook, folder: Path, timeout: int = 60):
    """Execute ``notebook`` (changed in place, and returned) on a fresh kernel running in ``folder``."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(folder)}})
    # The kernel process's own stderr only carries transport warnings; cell output arrives separately.
    client.execute(stderr=subprocess.DEVNULL)
    return notebook


def _names(source: str, read: bool) -> set[str]:
    """Names a cell reads (``read``) or sets to ``...`` or ``None`` at its top level (an answer not given yet)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): a rough reading is enough here
        return set(re.findall(r"\b[A-Za-z_]\w*\b", source)) if read else set()
    if read:
        return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    unset = set()
    for node in tree.body:
        value = getattr(node, "value", None)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Constant) \
                and (value.value is None or value.value is Ellipsis):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            unset.update(target.id for target in targets if isinstance(target, ast.Name))
    return unset


def _unanswered(test_source: str, error: dict, unset: set[str]) -> str | None:
    """Why a failing test cell only waits for an answer (a name it reads that is not set yet), or None."""
    read = _names(test_source, read=True)
    missing = NOT_DEFINED.search(error.get("evalue", "")) if error.get("ename") == "NameError" else None
    if missing and missing.group(1) in read:
        return f"uses {missing.group(1)}, which you have not written yet"
    waiting = sorted(read & unset)
    if waiting:
        return f"{', '.join(waiting)} {'is' if len(waiting) == 1 else 'are'} not answered yet (still ... or None)"
    return None


def collect_results(notebook) -> list[CellResult]:
    """Classify each graded or failing cell of an executed notebook."""
    results = []
    unset = set()  # names that answer cells leave at ... or None
    for index, cell in enumerate(notebook.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution"):
            points = float(meta.get("points", 0) or 0)
            if cell.source.strip() in ("", WRITTEN_STUB):
                results.append(CellResult(_label(cell, index), "todo", points,
                                          "write your answer in this cell; your instructor grades it", is_test=False))
            else:
                results.append(CellResult(_label(cell, index), "done", points,
                                          "answered; your instructor grades it", is_test=False))
            continue
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            unset |= _names(cell.source, read=False)
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        is_test = meta.get("grade") and not meta.get("solution")
        points = float(meta.get("points", 0) or 0)
        if is_test:
            failing = [e for e in errors if e.get("ename") != "NotImplementedError"]
            waiting = _unanswered(cell.source, failing[0], unset) if failing else None
            if errors and not failing:
                results.append(CellResult(_label(cell, index), "todo", points,
                                          "calls a function you have not written yet"))
            elif waiting:
                results.append(CellResult(_label(cell, index), "todo", points, waiting))
            elif errors:
                results.append(CellResult(_label(cell, index), "fail", points,
                                          _error_text(failing[0], notebook, index)))
            else:
                results.append(CellResult(_label(cell, index), "pass", points))
        elif errors:
            status = "todo" if errors[0].get("ename") == "NotImplementedError" else "error"
            message = "your solution is not written yet" if status == "todo" \
                else _error_text(errors[0], notebook, index)
            results.append(CellResult(_label(cell, index), status, points, message, is_test=False))
    return results


def report(path: Path | str, results: list[CellResult]) -> tuple[str, bool]:
    """A readable report and whether every visible test passed (and every written answer is there)."""
    test_cells = [r for r in results if r.is_test]
    lines = [f"Validating {path} (visible tests only)"]
    for result in results:
        tag = TAGS[result.status]
        points = f" ({result.points:g} point{'' if result.points == 1 else 's'})" if result.points else ""
        lines.append(f"  {tag:<5} {result.label}{points}")
        for line in result.message.splitlines():
            lines.append(f"        {line}")
    passed = sum(r.status == "pass" for r in test_cells)
    ok = bool(test_cells) and all(r.status in ("pass", "done") for r in results)
    lines.append(f"{passed} of {len(test_cells)} test cells pass.")
    if ok:
        lines.append("All visible tests pass. Hidden tests run when your work is graded, so full marks "
                     "are not guaranteed: test your functions on your own examples too.")
    else:
        lines.append("Fix the cells marked FAIL, TODO or ERROR above and run validate again. "
                     "Hidden tests also run when your work is graded.")
    return "\n".join(lines), ok


def validate(path: Path, timeout: int = 60) -> tuple[str, bool]:
    """Run the notebook and return (report, all visible tests passed)."""
    return validate_notebook(read_notebook(path), Path(path).resolve().parent, path, timeout)


def validate_notebook(notebook, folder: Path, label: Path | str, timeout: int = 60) -> tuple[str, bool]:
    """Run ``notebook`` (changed in place) in ``folder`` and return (report, all visible tests passed).

    label: how the report's first line names the notebook
    """
    try:
        execute(notebook, folder, timeout)
    except (CellTimeoutError, DeadKernelError) as error:
        return f"Validating {label}: the kernel stopped ({type(error).__name__}: {error}).", False
    return report(label, collect_results(notebook))


# --- JupyterLab's Validate button ---------------------------------------------------------------------------------
# The button asks nbgrader's Validator, which reads nbgrader_config.py, runs the notebook with its Execute
# preprocessor and answers with the test cells that failed; the dialog shows each one's error. With this hook as
# ``c.Execute.on_notebook_start``, the notebook it runs is replaced, once its kernel is up, by one cell: nothing when
# validate finds nothing to fix (the dialog says the notebook passes), otherwise a failed cell whose error is this
# module's report.

REPORT_CELL_ID = "validation_report"
SKIP_TAG = "skip-execution"  # nbclient's NotebookClient.skip_cells_with_tag


def validate_dialog_hook(timeout: int = 60):
    """An ``on_notebook_start`` hook for nbgrader's Execute that makes nbgrader's validation report this one's.

    timeout: seconds per cell, as ``c.Execute.timeout``
    """
    def on_notebook_start(notebook, **_) -> None:
        if os.environ.get("NBGRADER_EXECUTION") != "validate":  # set by nbgrader's Validator only
            return
        folder = Path.cwd()  # the Validator runs the notebook in its own folder
        text, ok = validate_notebook(copy.deepcopy(notebook), folder, notebook_file_name(notebook, folder), timeout)
        notebook.cells = [] if ok else [report_cell(text)]
    return on_notebook_start


def report_cell(text: str):
    """A test cell that nbgrader's Validator counts as failed: its source is the report's first line and its error
    the rest (the dialog shows one above the other). It is never executed: nbclient skips cells with this tag."""
    title, _, rest = text.partition("\n")
    meta = {"grade": True, "solution": False, "locked": False, "points": 1, "grade_id": REPORT_CELL_ID,
            "schema_version": 3}
    return new_code_cell(title, metadata={"nbgrader": meta, "tags": [SKIP_TAG]}, outputs=[
        new_output("error", ename="Validation", evalue="", traceback=rest.split("\n"))])


def notebook_file_name(notebook, folder: Path) -> str:
    """The name of the notebook file in ``folder`` whose cells hold the same code and text as ``notebook``."""
    wanted = [cell.source for cell in notebook.cells]
    for path in sorted(Path(folder).glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            if ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells] == wanted:
                return path.name
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return "this notebook"
