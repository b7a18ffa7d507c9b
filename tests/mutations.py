"""The mutation catalogue: plausible wrong implementations that each assignment's tests must catch.

Every mutant edits the instructor's solution in one solution cell and names the test cells that must then
score zero. Each assignment's mutants live in tests/mutants/<assignment>.py; tests/test_assignments.py submits
every mutant as a student and grades it with nbgrader.
``visible_passes`` marks mutants that get through every visible test: only the hidden tests catch them.
Mutants named ``..._in_place`` change their array, list or dict arguments (and answer for the changed values). The
grader writes such changes back into the test's own arguments, as the student's kernel would, so these are caught
only because the tests pass copies, and check an argument that must be left unchanged against a copy made before.
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


def load_catalogue() -> dict[str, list[Mutant]]:
    """Every tests/mutants/<assignment>.py contributes its MUTANTS list."""
    catalogue = {}
    for path in sorted(Path(__file__).with_name("mutants").glob("ps*.py")):
        module = importlib.import_module(f"mutants.{path.stem}")
        catalogue[path.stem] = list(module.MUTANTS)
    return catalogue


CATALOGUE: dict[str, list[Mutant]] = load_catalogue()
