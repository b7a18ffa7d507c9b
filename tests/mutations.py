"""The mutation catalogue: plausible wrong implementations that each assignment's tests must catch.

Every mutant edits the instructor's solution in one solution cell and names the test cells that must then
score zero. Each assignment's mutants live in tests/mutants/<assignment>.py; tests/test_assignments.py submits
every mutant as a student and grades it with nbgrader.
``visible_passes`` marks mutants that get through every visible test: only the hidden tests catch them.
Mutants named ``..._in_place`` change their array, list or dict arguments (and answer for the changed values). The
grader writes such changes back into the test's own arguments, as the student's kernel would, so these are caught
only because the tests pass copies, and check an argument that must be left unchanged against a copy made before.
``keeps`` names test cells that must keep their full points although the mutant breaks a function beside them: each
part is judged against the instructor's reference, never against the student's other functions.

Each file may also list ``VARIANTS``: correct implementations written in another convention the text accepts (Adam
with epsilon added to the uncorrected square root, momentum with the learning rate inside the velocity). Graded the
same way, each must earn every point the solution earns.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str  # grade_id of the solution cell that is edited
    edits: tuple  # (text in the solution, replacement) pairs
    fails: tuple  # grade_ids of the test cells that must score zero
    visible_passes: bool = False
    keeps: tuple = ()  # grade_ids of the test cells that must keep their full points


@dataclass(frozen=True)
class Variant:
    """A correct implementation in another accepted convention: it must score what the solution scores."""
    name: str
    cell: str  # grade_id of the solution cell that is edited
    edits: tuple  # (text in the solution, replacement) pairs


def load_catalogue(kind: str = "MUTANTS") -> dict[str, list]:
    """Every tests/mutants/<assignment>.py contributes its MUTANTS list (and, with kind="VARIANTS", its VARIANTS)."""
    catalogue = {}
    for path in sorted(Path(__file__).with_name("mutants").glob("ps*.py")):
        module = importlib.import_module(f"mutants.{path.stem}")
        catalogue[path.stem] = list(getattr(module, kind, []))
    return catalogue


CATALOGUE: dict[str, list[Mutant]] = load_catalogue()
VARIANTS: dict[str, list[Variant]] = load_catalogue("VARIANTS")
