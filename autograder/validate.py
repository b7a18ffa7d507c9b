"""Run a notebook's visible tests the way a student would want: pass/fail per test, non-zero exit on failure."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .notebooks import read_notebook

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellResult:
    label: str
    status: str  # "pass", "fail", "todo" (solution not written yet) or "error" (a non-test cell failed)
    points: float
    message: str = ""
    is_test: bool = True


def _error_text(output) -> str:
    """The error's type and message; the full traceback only where the message is empty."""
    message = ANSI_ESCAPE.sub("", output.get("evalue", "")).strip()
    if message:
        return f"{output.get('ename', 'Error')}: {message}"
    traceback = [ANSI_ESCAPE.sub("", line) for line in output.get("traceback", [])]
    return "\n".join(traceback[-3:]).strip() or output.get("ename", "Error")


def _label(cell, index: int) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1}"


def run_notebook(path: Path, timeout: int = 60):
    """Execute a copy of the notebook on a fresh kernel (the file on disk is not changed)."""
    notebook = read_notebook(path)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=True, record_timing=False,
                            resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    # The kernel process's own stderr only carries transport warnings; cell output arrives separately.
    client.execute(stderr=subprocess.DEVNULL)
    return notebook


def collect_results(notebook) -> list[CellResult]:
    """Classify each graded or failing cell of an executed notebook."""
    results = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        is_test = meta.get("grade") and not meta.get("solution")
        points = float(meta.get("points", 0) or 0)
        if is_test:
            failing = [e for e in errors if e.get("ename") != "NotImplementedError"]
            if errors and not failing:
                results.append(CellResult(_label(cell, index), "todo", points,
                                          "calls a function you have not written yet"))
            elif errors:
                results.append(CellResult(_label(cell, index), "fail", points, _error_text(failing[0])))
            else:
                results.append(CellResult(_label(cell, index), "pass", points))
        elif errors:
            status = "todo" if errors[0].get("ename") == "NotImplementedError" else "error"
            message = "your solution is not written yet" if status == "todo" else _error_text(errors[0])
            results.append(CellResult(_label(cell, index), status, points, message, is_test=False))
    return results


def report(path: Path, results: list[CellResult]) -> tuple[str, bool]:
    """A readable report and whether every visible test passed."""
    test_cells = [r for r in results if r.is_test]
    lines = [f"Validating {path} (visible tests only)"]
    for result in results:
        tag = {"pass": "PASS", "fail": "FAIL", "todo": "TODO", "error": "ERROR"}[result.status]
        points = f" ({result.points:g} point{'' if result.points == 1 else 's'})" if result.points else ""
        lines.append(f"  {tag:<5} {result.label}{points}")
        for line in result.message.splitlines():
            lines.append(f"        {line}")
    passed = sum(r.status == "pass" for r in test_cells)
    ok = bool(test_cells) and all(r.status == "pass" for r in results)
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
    try:
        notebook = run_notebook(path, timeout)
    except (CellTimeoutError, DeadKernelError) as error:
        return f"Validating {path}: the kernel stopped ({type(error).__name__}: {error}).", False
    return report(Path(path), collect_results(notebook))
