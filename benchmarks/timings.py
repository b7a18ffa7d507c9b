"""Print how long the things users wait for take: each lesson on a fresh kernel, and grading a class.

    .venv/bin/python benchmarks/timings.py [--students N]

Targets: a command starts (imports nbformat, nbgrader) in at most 3 s, a lesson runs in at most 20 s, an instructor
solution (with its hidden tests) in at most 30 s; grading costs a few seconds of start-up plus about a second per
submission. Figures are printed, not asserted: they
depend on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import grading  # noqa: E402
from autograder.validate import run_notebook  # noqa: E402

TARGET_SECONDS = {"lessons": 20, "source": 30, "start-up": 3}
# The GPT lesson trains for about a minute of its two-minute budget; every other lesson has the folder's target.
NOTEBOOK_TARGET_SECONDS = {"11_gpt_from_scratch.ipynb": 120}


def time_start_up() -> None:
    """Print what importing the notebook and grading libraries costs a fresh process (every command pays it)."""
    target = TARGET_SECONDS["start-up"]
    print(f"start-up (fresh interpreter, target <= {target} s):")
    for module in ("nbformat", "nbclient", "nbgrader.apps", "autograder.validate"):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)
        seconds = time.perf_counter() - start
        flag = "" if seconds <= target else "  <-- over target (see the jsonschema bound in pyproject.toml)"
        print(f"  import {module:<34} {seconds:6.1f} s{flag}")


def time_notebooks(folder: str) -> None:
    """Run every notebook of a folder on a fresh kernel and print its time against the target."""
    print(f"{folder}/ (fresh kernel, target <= {TARGET_SECONDS[folder]} s unless said):")
    for path in sorted((ROOT / folder).rglob("*.ipynb")):
        target = NOTEBOOK_TARGET_SECONDS.get(path.name, TARGET_SECONDS[folder])
        start = time.perf_counter()
        run_notebook(path, timeout=300)
        seconds = time.perf_counter() - start
        flag = "" if seconds <= target else f"  <-- over its target of {target} s"
        print(f"  {path.name:<40} {seconds:6.1f} s{flag}")


def time_grading(students: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch) / "course"
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course)
        for folder in ("source", "assignments"):
            shutil.copytree(ROOT / folder, course / folder)
        for assignment in grading.source_assignments(course):
            notebook = next((course / "source" / assignment).glob("*.ipynb"))
            for index in range(students):
                folder = course / "submitted" / f"student{index:03d}" / assignment
                folder.mkdir(parents=True)
                shutil.copy(notebook, folder)
            start = time.perf_counter()
            rows, _, _ = grading.grade(course, assignment, quiet=True)
            seconds = time.perf_counter() - start
            print(f"Grading {assignment}: {len(rows)} submissions in {seconds:.1f} s "
                  f"({seconds / max(len(rows), 1):.2f} s per submission, including feedback and CSV)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=10, help="submissions to grade per assignment")
    args = parser.parse_args()
    time_start_up()
    time_notebooks("lessons")
    time_notebooks("source")
    time_grading(args.students)


if __name__ == "__main__":
    main()
