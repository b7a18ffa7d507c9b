"""Build the catalogue's instructor notebooks from lists of cells, and students' submissions from the released copy.

An assignment is written once, as cells with nbgrader's metadata (schema 3): the helpers below say what each
cell is for, the way the "Create Assignment" toolbar of JupyterLab does. ``Assignment.write_source`` writes
``source/<name>/<name>.ipynb`` and its data files; nbgrader's generate_assignment makes the student version;
``Assignment.submission`` fills that student version's answer cells the way a student would.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

DATA = Path(__file__).with_name("data")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*$")


@dataclass(frozen=True)
class Cell:
    kind: str  # "code" or "markdown"
    source: str
    grade_id: str | None = None  # None: an ordinary cell, without nbgrader metadata
    grade: bool = False
    solution: bool = False
    locked: bool = False
    task: bool = False
    points: float = 0

    def metadata(self) -> dict:
        if self.grade_id is None:
            return {}
        nbgrader = {"grade": self.grade, "grade_id": self.grade_id, "locked": self.locked, "schema_version": 3,
                    "solution": self.solution, "task": self.task}
        if self.grade or self.task:
            nbgrader["points"] = self.points
        return {"nbgrader": nbgrader}


def text(source: str) -> Cell:
    """Markdown for the student, not tracked by nbgrader."""
    return Cell("markdown", source)


def locked_text(grade_id: str, source: str) -> Cell:
    """Markdown the student cannot edit (nbgrader restores it when grading)."""
    return Cell("markdown", source, grade_id, locked=True)


def locked_code(grade_id: str, source: str) -> Cell:
    """Code the student runs but cannot edit: set-up, shared helpers, defaults."""
    return Cell("code", source, grade_id, locked=True)


def answer(grade_id: str, source: str) -> Cell:
    """An answer cell: ``### BEGIN SOLUTION`` … ``### END SOLUTION`` becomes a stub in the student version."""
    return Cell("code", source, grade_id, solution=True)


def tests(grade_id: str, points: float, source: str) -> Cell:
    """An autograded test cell: full marks when it raises nothing (or the number it ends with, if any)."""
    return Cell("code", source, grade_id, grade=True, locked=True, points=points)


def written(grade_id: str, points: float, source: str) -> Cell:
    """A written answer (markdown) scored by a person; ``source`` is the model answer."""
    return Cell("markdown", source, grade_id, grade=True, solution=True, points=points)


def graded_code(grade_id: str, points: float, source: str) -> Cell:
    """Code the student writes and a person scores (no automatic test)."""
    return Cell("code", source, grade_id, grade=True, solution=True, points=points)


def task(grade_id: str, points: float, source: str) -> Cell:
    """A task described in markdown, scored by a person; a ``=== BEGIN MARK SCHEME ===`` part stays with the
    instructor."""
    return Cell("markdown", source, grade_id, locked=True, task=True, points=points)


@dataclass(frozen=True)
class Variant:
    """One student's submission: the released notebook with its answer cells filled in.

    answers: grade_id -> the whole cell as this student wrote it; answer cells not named hold the instructor's
        solution (without the solution markers)
    loses: test cells on which plain nbgrader must give less than full marks (every other test: full marks)
    """
    name: str
    answers: dict[str, str] = field(default_factory=dict)
    loses: tuple[str, ...] = ()


UNTOUCHED = "untouched"  # the submission that is the released notebook itself


@dataclass(frozen=True)
class Assignment:
    name: str
    covers: str  # one line: what the assignment exercises
    cells: tuple[Cell, ...]
    variants: tuple[Variant, ...]  # besides the solution and the untouched notebook
    data_files: tuple[str, ...] = ()  # names in tests/fidelity/data/, shipped in the assignment folder

    def __post_init__(self):
        ids = [cell.grade_id for cell in self.cells if cell.grade_id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        assert not duplicates, f"{self.name}: grade_id used twice: {duplicates}"
        answers = {cell.grade_id for cell in self.cells if cell.solution}
        autograded = set(self.autograded_cells)
        for variant in self.variants:
            unknown = (set(variant.answers) - answers) | (set(variant.loses) - autograded)
            assert not unknown, f"{self.name}/{variant.name}: no answer or test cell {sorted(unknown)}"

    @property
    def autograded_cells(self) -> dict[str, float]:
        """grade_id -> points of every cell nbgrader scores by itself (the test cells)."""
        return {cell.grade_id: cell.points for cell in self.cells if cell.grade and not cell.solution}

    @property
    def manual_cells(self) -> dict[str, float]:
        """grade_id -> points of every cell a person scores (written answers, graded code, tasks)."""
        return {cell.grade_id: cell.points for cell in self.cells if cell.task or (cell.grade and cell.solution)}

    @property
    def students(self) -> list[str]:
        return ["solution", UNTOUCHED, *(variant.name for variant in self.variants)]

    def source_notebook(self) -> nbformat.NotebookNode:
        notebook = nbformat.v4.new_notebook(metadata={"kernelspec": dict(KERNELSPEC),
                                                      "language_info": {"name": "python"}})
        for index, cell in enumerate(self.cells):
            make = nbformat.v4.new_code_cell if cell.kind == "code" else nbformat.v4.new_markdown_cell
            notebook.cells.append(make(cell.source, metadata=cell.metadata(), id=cell.grade_id or f"cell-{index}"))
        nbformat.validate(notebook)
        return notebook

    def write_source(self, source_folder: Path) -> Path:
        """Write source/<name>/<name>.ipynb and the data files next to it; return the notebook's path."""
        folder = source_folder / self.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.ipynb"
        nbformat.write(self.source_notebook(), path)
        for name in self.data_files:
            shutil.copyfile(DATA / name, folder / name)
        return path

    def solutions(self) -> dict[str, str]:
        """grade_id -> the instructor's answer as a student would hand it in (the solution markers removed)."""
        return {cell.grade_id: "\n".join(line for line in cell.source.split("\n") if not SOLUTION_MARKER.match(line))
                for cell in self.cells if cell.solution}

    def submission(self, released: nbformat.NotebookNode, student: str) -> nbformat.NotebookNode:
        """The notebook ``student`` (a name in ``students``) hands in, made from the released student version."""
        notebook = nbformat.from_dict(released)  # a copy: the released notebook is left as it is
        if student == UNTOUCHED:
            return notebook
        answers = self.solutions()
        if student != "solution":
            answers.update(next(v for v in self.variants if v.name == student).answers)
        filled = set()
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
                cell.source = answers[grade_id]
                filled.add(grade_id)
        assert filled == set(answers), f"{self.name}: the released notebook lacks answer cells {set(answers) - filled}"
        return notebook

    def expected_losses(self, student: str) -> set[str]:
        """Test cells on which plain nbgrader must not give full marks to ``student``."""
        if student == UNTOUCHED:
            return set(self.autograded_cells)
        if student == "solution":
            return set()
        return set(next(v for v in self.variants if v.name == student).loses)
