"""Reading notebooks safely and keeping committed notebooks clean."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Notebook-level metadata worth keeping; anything else (editor state, cloud ids, widgets) is dropped.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
KEPT_CELL_METADATA = ("nbgrader", "tags", "deletable", "editable")


class NotebookError(Exception):
    """A file that should be a notebook cannot be used; the message names the file and the reason."""


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook, raising :class:`NotebookError` with a plain explanation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"{path}: cannot be read ({error})") from None
    if not text.strip():
        raise NotebookError(f"{path}: the file is empty, not a notebook")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"{path}: not a valid notebook: broken JSON at line {error.lineno}, "
                            f"column {error.colno} ({error.msg})") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise NotebookError(f"{path}: not a valid notebook: it has no list of cells")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several types for invalid structure
        reason = str(error).strip().split("\n")[0]
        raise NotebookError(f"{path}: not a valid notebook ({reason})") from None
    return notebook


def clean(notebook: nbformat.NotebookNode, keep_outputs: bool) -> nbformat.NotebookNode:
    """Normalise metadata (python3 kernel, no personal state); drop outputs unless ``keep_outputs``."""
    notebook.metadata = nbformat.NotebookNode(
        {key: notebook.metadata[key] for key in KEPT_NOTEBOOK_METADATA if key in notebook.metadata})
    notebook.metadata["kernelspec"] = nbformat.NotebookNode(KERNELSPEC)
    for cell in notebook.cells:
        cell.metadata = nbformat.NotebookNode(
            {key: cell.metadata[key] for key in KEPT_CELL_METADATA if key in cell.metadata})
        if cell.cell_type == "code" and not keep_outputs:
            cell.outputs = []
            cell.execution_count = None
    return notebook


def write(notebook: nbformat.NotebookNode, path: Path) -> None:
    """Write with a stable layout (one-space indent, trailing newline) so diffs stay small."""
    text = nbformat.writes(notebook, version=4)
    Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def committed_notebooks(root: Path) -> dict[str, list[Path]]:
    """The notebooks under version control, by folder: lessons keep outputs, the others do not."""
    root = Path(root)
    return {folder: sorted(p for p in (root / folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            for folder in ("lessons", "source", "assignments")}


def hygiene_problems(path: Path, keep_outputs: bool) -> list[str]:
    """What is wrong with a committed notebook: unreadable, outputs where none belong, errors, extra metadata."""
    try:
        notebook = read_notebook(path)
    except NotebookError as error:
        return [str(error)]
    problems = []
    if notebook.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{path}: kernelspec should be python3")
    extra = set(notebook.metadata) - set(KEPT_NOTEBOOK_METADATA)
    if extra:
        problems.append(f"{path}: personal or editor metadata {sorted(extra)}")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if not keep_outputs and (cell.outputs or cell.execution_count is not None):
            problems.append(f"{path}: cell {index} has outputs (run `autograder clean`)")
        if keep_outputs:
            if cell.source.strip() and not cell.outputs and cell.execution_count is None:
                problems.append(f"{path}: cell {index} was not executed")
            for output in cell.outputs:
                if output.output_type == "error":
                    problems.append(f"{path}: cell {index} stores an error")
                if output.output_type == "stream" and output.name == "stderr":
                    problems.append(f"{path}: cell {index} prints to stderr")
    return problems
