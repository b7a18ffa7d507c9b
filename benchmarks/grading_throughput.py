"""Compare how fast a class is graded by plain nbgrader and by `autograder grade`, on the same submissions.

    .venv/bin/python benchmarks/grading_throughput.py [--students N] [--jobs N] [--keep]

Builds scratch courses in a temporary folder, makes N submissions of ps1_gradient_descent (full solutions,
untouched student versions and catalogued wrong implementations), then times:
  * `nbgrader autograde` (sequential, nbgrader's defaults from the course's nbgrader_config.py), and
    `nbgrader generate_feedback` after it;
  * `autograder grade --no-feedback --jobs <cores>` (sandboxed) in a fresh course;
  * `autograder grade --jobs <cores>` (with feedback) in another fresh course.
Target: nbgrader/autograder >= 1.8x on 2 cores, grading without feedback. Figures are printed, not asserted:
they depend on the machine. Both graders should give every student the same total; differences are printed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))  # the catalogue of wrong implementations

import nbformat  # noqa: E402

from autograder import grading  # noqa: E402
from mutations import CATALOGUE  # noqa: E402

ASSIGNMENT = "ps1_gradient_descent"
MUTANTS = CATALOGUE[ASSIGNMENT]
TARGET_RATIO = 1.8
TARGET_CORES = 2
WRITTEN_ANSWER = ("From -0.5 the slope is positive so each step goes left, from 0.5 it is negative so it goes "
                  "right: the hump near x = 0.13 separates the valleys. The left minimum (about -1.47) is the "
                  "global one. Random restarts would find it more often.")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def make_course(destination: Path) -> Path:
    """A course folder as an instructor has it: config, source/, assignments/."""
    destination.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", destination)
    for folder in ("source", "assignments"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return destination


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solved_notebook() -> nbformat.NotebookNode:
    """The released student version with every answer cell filled in from the instructor's solution."""
    source = nbformat.read(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released = nbformat.read(ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {grade_id(cell): cell.source for cell in source.cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    for cell in released.cells:
        if grade_id(cell) in answers:
            text = answers[grade_id(cell)]
            if cell.cell_type == "markdown":
                text = WRITTEN_ANSWER
            else:
                text = "\n".join(line for line in text.splitlines() if "### BEGIN SOLUTION" not in line
                                 and "### END SOLUTION" not in line)
            cell.source = text
    return released


def mutated(notebook: nbformat.NotebookNode, mutant) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if grade_id(cell) == mutant.cell:
            for old, new in mutant.edits:
                if old not in cell.source:
                    raise SystemExit(f"mutant {mutant.name}: the solution of {mutant.cell} changed "
                                     "(update tests/mutants/ps1_gradient_descent.py)")
                cell.source = cell.source.replace(old, new)
            return notebook
    raise SystemExit(f"mutant {mutant.name}: no cell {mutant.cell} in {ASSIGNMENT}")


def make_submissions(folder: Path, count: int) -> dict[str, str]:
    """``count`` submissions laid out <student>/<assignment>/<assignment>.ipynb; return student -> kind.

    Of every ten students three hand in a full solution, one the untouched notebook and six a wrong
    implementation (the catalogue's mutants in turn).
    """
    released = nbformat.read(ROOT / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    kinds = {}
    mutant_index = 0
    for index in range(count):
        slot = index % 10
        if slot in (0, 3, 6):
            kind, notebook = "solution", solved_notebook()
        elif slot == 9:
            kind, notebook = "untouched", copy.deepcopy(released)
        else:
            mutant = MUTANTS[mutant_index % len(MUTANTS)]
            mutant_index += 1
            kind, notebook = mutant.name, mutated(solved_notebook(), mutant)
        student = f"s{index:03d}_{kind}"
        path = folder / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
        kinds[student] = kind
    return kinds


def environment(plain_nbgrader: bool = False) -> dict:
    """The environment for nbgrader and autograder: this interpreter's tools (nbgrader calls `alembic`) on PATH.

    plain_nbgrader: let `nbgrader autograde` run although the course's config refuses it (autograder/guard.py)
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    if plain_nbgrader:
        env["AUTOGRADER_ALLOW_PLAIN_AUTOGRADE"] = "1"
    else:
        env.pop("AUTOGRADER_ALLOW_PLAIN_AUTOGRADE", None)
    return env


def run(command: list[str], cwd: Path, what: str, accept: tuple[int, ...] = (0,),
        plain_nbgrader: bool = False) -> float:
    """Run a command in ``cwd`` capturing its output; return its wall-clock seconds (stops on an unexpected exit)."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=environment(plain_nbgrader), capture_output=True, text=True,
                            check=False)
    seconds = time.perf_counter() - start
    if result.returncode not in accept:
        sys.stderr.write(f"{what} exited with {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n")
        raise SystemExit(f"benchmark stopped: {what} failed")
    return seconds


def nbgrader(course: Path, *args: str, what: str) -> float:
    return run([sys.executable, "-m", "nbgrader", *args], course, what, plain_nbgrader=True)


def autograder(course: Path, submissions: Path, jobs: int, feedback: bool) -> float:
    command = [sys.executable, "-m", "autograder", "--quiet", "grade", ASSIGNMENT, "--submissions", str(submissions),
               "--jobs", str(jobs)] + ([] if feedback else ["--no-feedback"])
    # Exit status 1 means some submission had a problem (the untouched ones raise NotImplementedError): graded.
    return run(command, course, "autograder grade" + ("" if feedback else " --no-feedback"), accept=(0, 1))


def totals(course: Path) -> dict[str, tuple[float, dict[str, float]]]:
    """student -> (total score, score per graded part) from the course's gradebook."""
    settings = grading.load_settings(course)
    scores = {}
    with settings.gradebook() as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            parts = {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}
            scores[submission.student.id] = (submission.score, parts)
    return scores


def notebook_seconds(course: Path) -> list[float]:
    """Seconds each notebook took inside autograder's workers (from the per-submission JSON results)."""
    seconds = []
    for path in sorted((course / "grades" / ASSIGNMENT).glob("*.json")):
        seconds.extend(nb["seconds"] for nb in json.loads(path.read_text())["notebooks"])
    return seconds


def first_problem(course: Path, student: str) -> str:
    """The first problem autograder recorded for a student's submission, if any."""
    path = course / "grades" / ASSIGNMENT / f"{student}.json"
    if not path.is_file():
        return ""
    problems = [p for nb in json.loads(path.read_text())["notebooks"] for p in nb["problems"]]
    return " ".join(problems[0].split())[:160] if problems else ""


def compare(students: list[str], reference: dict, course: Path, label: str) -> None:
    other = totals(course)
    differences = []
    for student in students:
        if student not in reference or student not in other:
            differences.append(f"  {student}: nbgrader {'recorded' if student in reference else 'missing'}, "
                               f"{label} {'recorded' if student in other else 'missing'}")
            continue
        (total_a, parts_a), (total_b, parts_b) = reference[student], other[student]
        if abs(total_a - total_b) > 1e-9:
            parts = ", ".join(f"{name} {parts_a.get(name)} vs {parts_b.get(name)}"
                              for name in sorted(set(parts_a) | set(parts_b))
                              if parts_a.get(name) != parts_b.get(name))
            problem = first_problem(course, student)
            differences.append(f"  {student}: nbgrader {total_a:g}, {label} {total_b:g} ({parts})"
                               + (f"\n      autograder's problem: {problem}" if problem else ""))
    if differences:
        print(f"Same total for every student (nbgrader vs {label}): NO, {len(differences)} differ:")
        print("\n".join(differences))
    else:
        print(f"Same total for every student (nbgrader vs {label}): yes, all {len(students)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=40, help="submissions to grade (default 40)")
    parser.add_argument("--jobs", type=int, default=cores(), help="notebooks autograder grades at once "
                                                                  "(default: the cores available)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folders and print their paths")
    args = parser.parse_args()
    available = cores()
    scratch = Path(tempfile.mkdtemp(prefix="grading-throughput-"))
    try:
        inbox = scratch / "submissions"
        kinds = make_submissions(inbox, args.students)
        students = sorted(kinds)
        mix = {"solution": 0, "untouched": 0}
        for kind in kinds.values():
            key = kind if kind in mix else "wrong implementation"
            mix[key] = mix.get(key, 0) + 1
        print(f"load average before: {load()}")
        print(f"{len(students)} submissions of {ASSIGNMENT} ("
              + ", ".join(f"{n} {k}" for k, n in mix.items()) + f"); {available} cores, autograder --jobs {args.jobs}")

        # Plain nbgrader: the assignment recorded by generate_assignment, submissions in submitted/.
        plain = make_course(scratch / "nbgrader_course")
        nbgrader(plain, "generate_assignment", ASSIGNMENT, "--force", what="nbgrader generate_assignment")
        shutil.copytree(inbox, plain / "submitted")
        print("grading with nbgrader autograde ...", flush=True)
        nbgrader_grade = nbgrader(plain, "autograde", ASSIGNMENT, "--force", what="nbgrader autograde")
        print("writing feedback with nbgrader generate_feedback ...", flush=True)
        nbgrader_feedback = nbgrader(plain, "generate_feedback", ASSIGNMENT, "--force",
                                     what="nbgrader generate_feedback")

        # autograder, each run in its own fresh course (the assignment already recorded, as after a release).
        quick = make_course(scratch / "autograder_course")
        grading.ensure_in_gradebook(quick, ASSIGNMENT, quiet=True)
        print("grading with autograder grade --no-feedback ...", flush=True)
        autograder_grade = autograder(quick, inbox, args.jobs, feedback=False)
        full = make_course(scratch / "autograder_full_course")
        grading.ensure_in_gradebook(full, ASSIGNMENT, quiet=True)
        print("grading with autograder grade (with feedback) ...", flush=True)
        autograder_full = autograder(full, inbox, args.jobs, feedback=True)
        print(f"load average after: {load()} (other work on the machine slows both graders)")

        count = len(students)
        nbgrader_full = nbgrader_grade + nbgrader_feedback
        rows = [("nbgrader autograde", 1, nbgrader_grade),
                ("autograder grade --no-feedback", args.jobs, autograder_grade),
                ("nbgrader autograde + generate_feedback", 1, nbgrader_full),
                ("autograder grade (with feedback)", args.jobs, autograder_full)]
        print(f"\n{'grader':<40} {'submissions':>11} {'cores':>5} {'seconds':>8} {'s/submission':>12}")
        for name, used, seconds in rows:
            print(f"{name:<40} {count:>11} {used:>5} {seconds:>8.1f} {seconds / max(count, 1):>12.2f}")
        like_for_like = nbgrader_grade / autograder_grade
        pipeline = nbgrader_full / autograder_full
        print(f"\nnbgrader/autograder, grading only (like for like): {like_for_like:.2f}x")
        print(f"nbgrader/autograder, full pipeline with feedback:   {pipeline:.2f}x")
        verdict = "met" if like_for_like >= TARGET_RATIO else "not met"
        note = "" if available == TARGET_CORES and args.jobs == TARGET_CORES else \
            f" (this run: {available} cores, --jobs {args.jobs}; the target is stated for {TARGET_CORES})"
        print(f"Target: >= {TARGET_RATIO}x grading only on {TARGET_CORES} cores: {verdict}{note}")
        inside = notebook_seconds(quick)
        if inside:
            print(f"autograder workers: {sum(inside) / len(inside):.2f} s per notebook on average "
                  f"({sum(inside):.1f} s in all over {args.jobs} jobs); the rest of its wall clock is start-up, "
                  "gradebook and files")

        print()
        reference = totals(plain)
        compare(students, reference, quick, "autograder")
        compare(students, reference, full, "autograder with feedback")
    finally:
        if args.keep:
            print(f"\nScratch folders kept in {scratch}:")
            for folder in sorted(p for p in scratch.iterdir() if p.is_dir()):
                print(f"  {folder}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
