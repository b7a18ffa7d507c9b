"""Every assignment, graded by real nbgrader: full marks for the solution, zero for the untouched student
version, every catalogued wrong implementation (tests/mutations.py) loses the points it should and only those its
parts depend on, and every correct variant in another convention earns full marks."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT, mutate, notebook_path, run_autograder
from mutations import CATALOGUE, VARIANTS

ASSIGNMENTS = sorted(p.name for p in (ROOT / "source").iterdir() if p.is_dir())
MUTANTS = [(assignment, mutant) for assignment in sorted(CATALOGUE) for mutant in CATALOGUE[assignment]]
CORRECT_VARIANTS = [(assignment, variant) for assignment in sorted(VARIANTS) for variant in VARIANTS[assignment]]


def automatic_parts(row: dict) -> dict[str, str]:
    return {name: value for name, value in row.items() if name.startswith("test_")}


def points_by_cell(notebook) -> dict[str, tuple[str, float]]:
    return {c.metadata.nbgrader["grade_id"]: (c.cell_type, float(c.metadata.nbgrader["points"]))
            for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")}


def test_every_assignment_has_a_mutation_catalogue():
    assert ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        mutants = CATALOGUE.get(assignment, [])
        notebook = nbformat.read(notebook_path(ROOT / "source", assignment), as_version=4)
        solution_cells = {c.metadata.nbgrader["grade_id"] for c in notebook.cells
                          if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
        graded_functions = {cell for cell in solution_cells if "def " in next(
            c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell)}
        for cell in sorted(graded_functions):
            count = sum(m.cell == cell for m in mutants)
            assert count >= 3, f"{assignment}: {cell} has {count} mutants in tests/mutations.py; it needs 3"
        names = [m.name for m in mutants] + [v.name for v in VARIANTS.get(assignment, [])]
        assert len(set(names)) == len(names), f"{assignment}: mutant or variant names repeat"
        test_cells = {c.metadata.nbgrader["grade_id"] for c in notebook.cells
                      if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}
        for mutant in mutants:
            named = set(mutant.fails) | set(mutant.keeps)
            assert named <= test_cells, f"{assignment}: {mutant.name} names unknown test cells {named - test_cells}"
            assert not set(mutant.fails) & set(mutant.keeps), f"{assignment}: {mutant.name} both fails and keeps a cell"


VISIBLE_PASSES = [(a, m) for a, m in MUTANTS if m.visible_passes]


@pytest.fixture(scope="module", autouse=True)
def grading_in_the_background(request, graded_class):
    """The classes this run's tests read are graded in the background while the first tests (validation) run."""
    graded_class.start(only={item.callspec.params["assignment"] for item in request.session.items
                             if "graded_class" in getattr(item, "fixturenames", ()) and hasattr(item, "callspec")
                             and "assignment" in item.callspec.params})


@pytest.mark.parametrize("assignment, mutant", VISIBLE_PASSES, ids=[f"{a}-{m.name}" for a, m in VISIBLE_PASSES])
def test_hidden_tests_catch_what_visible_tests_miss(assignment, mutant, tmp_path):
    """The student's notebook, the released version with the wrong solution typed in, passes `validate`.

    (That the hidden tests then take its points is test_wrong_implementation_loses_the_points_of_its_part.)
    """
    source, released = notebook_path(ROOT / "source", assignment), notebook_path(ROOT / "assignments", assignment)
    student_version = nbformat.read(released, as_version=4)
    solution = nbformat.read(source, as_version=4)
    # Every answer as the solution has it (written ones too, which validate otherwise lists as TODO).
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in student_version.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", answers[grade_id])
    mutate(student_version, mutant)
    path = tmp_path / released.name
    nbformat.write(student_version, path)
    result = run_autograder("validate", str(path))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_automatic_marks(graded_class, assignment):
    graded = graded_class(assignment)
    row = graded.rows["solution"]
    cells = points_by_cell(nbformat.read(graded.source, as_version=4))
    automatic = {name: points for name, (kind, points) in cells.items() if kind == "code"}
    manual = [name for name, (kind, _) in cells.items() if kind == "markdown"]
    assert manual, f"{assignment} needs a manually graded written answer"
    assert {name: float(value) for name, value in automatic_parts(row).items()} == automatic, row
    assert all(row[name] == "" for name in manual) and row["needs_manual_grade"] == "yes"
    assert float(row["score"]) == sum(automatic.values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_version_scores_zero(graded_class, assignment):
    row = graded_class(assignment).rows["untouched"]
    assert float(row["score"]) == 0, row
    assert all(float(value) == 0 for value in automatic_parts(row).values())
    assert row["needs_manual_grade"] == "no"  # an unanswered written part needs no reading


@pytest.mark.parametrize("assignment, mutant", MUTANTS, ids=[f"{a}-{m.name}" for a, m in MUTANTS])
def test_wrong_implementation_loses_the_points_of_its_part(graded_class, assignment, mutant):
    graded = graded_class(assignment)
    row = graded.rows[mutant.name]
    for test_cell in mutant.fails:
        assert float(row[test_cell]) == 0, f"{mutant.name} earned the points of {test_cell}"
    for test_cell in mutant.keeps:  # a part is judged on its own, not through the broken function beside it
        assert float(row[test_cell]) == float(graded.rows["solution"][test_cell]), \
            f"{mutant.name} lost points of {test_cell}, whose function it does not touch"
    assert float(row["score"]) < float(graded.rows["solution"]["score"])


@pytest.mark.parametrize("assignment, variant", CORRECT_VARIANTS, ids=[f"{a}-{v.name}" for a, v in CORRECT_VARIANTS])
def test_correct_variant_earns_full_marks(graded_class, assignment, variant):
    """An implementation in another convention the assignment's text accepts earns every automatic point."""
    graded = graded_class(assignment)
    row, solution = graded.rows[variant.name], graded.rows["solution"]
    assert automatic_parts(row) == automatic_parts(solution), row
    assert row["score"] == solution["score"]


