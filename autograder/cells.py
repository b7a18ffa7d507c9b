"""Putting a submitted notebook back into the assignment's shape before it is graded.

A student can edit, delete, duplicate, move or re-label any cell of their copy, metadata included. Grading
works on a *normalised* notebook built from the submission and the instructor's notebook:

* test cells and other locked cells are always the instructor's (an edited one is restored, a deleted one is
  put back where it belongs);
* answer cells, and unlocked cells with an id, keep the student's source under the instructor's metadata (changed
  points or flags are restored); a deleted answer cell comes back as the released, unanswered version;
* a second copy of a graded cell is dropped if it is locked, or kept as an ordinary cell if it is an answer;
* a cell claiming an id the assignment does not have is kept as an ordinary, ungraded cell.

Every such repair is a :class:`CellWarning` naming the cell, reported to the instructor.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import nbformat

FLAGS = ("grade", "solution", "locked", "points", "task")


@dataclass(frozen=True)
class CellWarning:
    cell: str  # the grade id, or "cell N" (position in the submission, from 1)
    kind: str  # "edited test cell", "deleted cell", ...
    detail: str

    def __str__(self) -> str:
        return f"{self.cell}: {self.kind} ({self.detail})"


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def is_test(meta: dict) -> bool:
    return bool(meta.get("grade")) and not meta.get("solution")


def is_answer(meta: dict) -> bool:
    return bool(meta.get("solution"))


def is_graded_part(meta: dict) -> bool:
    """A part a person grades: a written answer (an answer cell with points) or a task cell."""
    return bool(meta.get("task")) or (is_answer(meta) and bool(meta.get("grade")))


def is_locked(meta: dict) -> bool:
    return bool(meta.get("locked")) or is_test(meta)


def _points(value) -> float | None:
    """Points as a number; None for anything else (text, a list), which differs from every assignment's points."""
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return None


def _flags(meta: dict) -> dict:
    flags = {key: meta.get(key) for key in FLAGS}
    flags["points"] = _points(flags["points"]) if flags.get("grade") else 0.0
    for key in ("grade", "solution", "locked", "task"):
        flags[key] = bool(flags[key])
    return flags


# Hashed AUTOTEST lines differ between two generations of one assignment only by their salts and digests.
_HEX_LITERAL = re.compile(r"""(b?["'])[0-9a-f]{4,}(["'])""")


def _unchanged(submitted, versions) -> bool:
    """Whether a locked cell's submitted source is one of the assignment's versions of it, up to whitespace at
    the ends and, for generated test code, the salts and digests of another generation of the same tests."""
    if not isinstance(submitted, str):
        return False
    if submitted.strip() in (version.strip() for version in versions):
        return True
    return _HEX_LITERAL.sub(r"\1#\2", submitted.strip()) in (_HEX_LITERAL.sub(r"\1#\2", version.strip())
                                                              for version in versions)


def _describe(meta: dict) -> str:
    return "test cell" if is_test(meta) else "answer cell" if is_answer(meta) else "locked cell"


def _plain(cell, index: int):
    """The cell as an ordinary student cell: no grading metadata."""
    plain = copy.deepcopy(cell)
    plain.metadata = nbformat.NotebookNode({k: v for k, v in cell.get("metadata", {}).items() if k != "nbgrader"})
    plain.metadata["submitted_position"] = index
    if "id" in plain:
        plain["id"] = f"submitted-{index}"  # its id may repeat a graded cell's, which comes back too
    return plain


def normalise(source: nbformat.NotebookNode, released: nbformat.NotebookNode,
              submitted: nbformat.NotebookNode) -> tuple[list, list[CellWarning]]:
    """The cells to grade, in the student's order, and what had to be repaired.

    source: the instructor's notebook (solutions and hidden tests)
    released: the student version generated from it (unanswered answer cells)
    submitted: what the student handed in
    """
    reference = {nbgrader_meta(c)["grade_id"]: c for c in source.cells if nbgrader_meta(c).get("grade_id")}
    stubs = {nbgrader_meta(c).get("grade_id"): c for c in released.cells if nbgrader_meta(c).get("grade_id")}
    order = [nbgrader_meta(c)["grade_id"] for c in source.cells if nbgrader_meta(c).get("grade_id")]
    warnings: list[CellWarning] = []
    result: list = []
    placed: dict[str, int] = {}  # grade id -> index in result

    for index, cell in enumerate(submitted.cells, start=1):
        raw = cell.get("metadata", {}).get("nbgrader")
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        label = grade_id if isinstance(grade_id, str) and grade_id else f"cell {index}"
        if raw is not None and not isinstance(raw, dict):
            warnings.append(CellWarning(f"cell {index}", "malformed metadata", "its nbgrader metadata is not a "
                                        "dictionary; treated as an ordinary cell"))
        if not isinstance(grade_id, str) or grade_id not in reference:
            if grade_id is not None or any(meta.get(k) for k in ("grade", "solution", "locked")):
                warnings.append(CellWarning(label, "relabelled cell", "the assignment has no cell with this id; "
                                            "treated as an ordinary cell and not graded"))
            result.append(_plain(cell, index))
            continue
        original = reference[grade_id]
        original_meta = nbgrader_meta(original)
        if grade_id in placed:
            if is_locked(original_meta) and not is_answer(original_meta):
                warnings.append(CellWarning(grade_id, "duplicated cell", f"a second copy at position {index} was "
                                            "removed"))
            else:
                warnings.append(CellWarning(grade_id, "duplicated cell", f"the copy at position {index} runs as an "
                                            "ordinary cell; the first copy is graded"))
                result.append(_plain(cell, index))
            continue
        if _flags(meta) != _flags(original_meta):
            changed = sorted(k for k in FLAGS if _flags(meta)[k] != _flags(original_meta)[k])
            warnings.append(CellWarning(grade_id, "changed metadata", f"{', '.join(changed)} restored from the "
                                        "assignment"))
        if cell.get("cell_type") != original.cell_type:
            warnings.append(CellWarning(grade_id, "changed cell type", f"{cell.get('cell_type')} restored to "
                                        f"{original.cell_type}"))
        if is_answer(original_meta) or not is_locked(original_meta):  # the student's to edit, as in nbgrader
            restored = copy.deepcopy(original)
            restored.source = cell.get("source", "") if isinstance(cell.get("source", ""), str) else ""
        else:
            restored = copy.deepcopy(original)
            stub = stubs.get(grade_id, original)
            if not _unchanged(cell.get("source", ""), (stub.source, original.source)):
                warnings.append(CellWarning(grade_id, f"edited {_describe(original_meta)}",
                                            "restored from the assignment"))
        restored.metadata["submitted_position"] = index
        if restored.cell_type == "code":
            restored.outputs, restored.execution_count = [], None
        placed[grade_id] = len(result)
        result.append(restored)

    # Put every missing cell back after the cell that precedes it in the assignment.
    for position, grade_id in enumerate(order):
        if grade_id in placed:
            continue
        original = reference[grade_id]
        original_meta = nbgrader_meta(original)
        if is_answer(original_meta):
            restored = copy.deepcopy(stubs.get(grade_id, original))
            restored.metadata["nbgrader"] = copy.deepcopy(original_meta)
            detail = "put back unanswered"
        else:
            restored = copy.deepcopy(original)
            detail = "restored from the assignment"
        if restored.cell_type == "code":
            restored.outputs, restored.execution_count = [], None
        if is_test(original_meta) or is_answer(original_meta) or original.cell_type == "code":
            warnings.append(CellWarning(grade_id, "deleted cell", f"the {_describe(original_meta)} was {detail}"))
        earlier = [placed[g] for g in order[:position] if g in placed]
        at = max(earlier) + 1 if earlier else 0
        result.insert(at, restored)
        placed = {g: i + (1 if i >= at else 0) for g, i in placed.items()}
        placed[grade_id] = at
    return result, warnings
