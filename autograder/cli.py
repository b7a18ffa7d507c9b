"""The ``autograder`` command: release assignments, grade a class, validate a notebook, clean notebooks."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from . import notebooks
from .validate import validate

# The student edition of the course ships only the student side of this package (validate); the instructor
# commands are offered where their modules are installed.
INSTRUCTOR = importlib.util.find_spec("autograder.grading") is not None
if INSTRUCTOR:
    from . import edition, grading, lms

STUDENT_EPILOG = """\
students:
  autograder validate assignments/ps1_gradient_descent/ps1_gradient_descent.ipynb
"""
EPILOG = """\
typical instructor flow (run inside the course folder):
  autograder release                          regenerate assignments/ from source/, once the solutions
                                              grade full marks and the untouched versions zero
  autograder grade ps1_gradient_descent --submissions path/to/submitted
                                              autograde, write feedback, export grades/<assignment>.csv
  autograder report ps1_gradient_descent      after manual grading in Formgrader: feedback and CSV again
  autograder import ps1_gradient_descent ~/Downloads/ps1
                                              file an LMS download (one notebook per student) into submitted/
  autograder export                           every assignment's scores as one CSV for the LMS
  autograder edition                          build dist/student-edition/ and its zip for students
""" + STUDENT_EPILOG


def _course(args) -> Path:
    return Path(args.course).resolve() if args.course else grading.find_course_root()


def cmd_release(args) -> int:
    """Release after checking that each assignment grades right; exit 2, releasing nothing, when one does not."""
    from . import release_check

    course = _course(args)
    if args.skip_check:
        written = grading.release(course, args.assignments or None, quiet=args.quiet)
        for path in written:
            print(f"released {path.relative_to(course)}")
        names = sorted({path.parent.name for path in written})
        print(f"autograder: warning: {', '.join(names) or 'nothing'} released UNCHECKED (--skip-check): nobody "
              "graded the solution or the untouched student version, so a wrong solution or a test that cannot "
              "fail goes to students unnoticed", file=sys.stderr)
        return 0
    outcome = release_check.release_checked(course, args.assignments or None, quiet=args.quiet, jobs=args.jobs,
                                            progress=not args.quiet)
    for check in outcome.checks:
        print(check.summary())
    for note in (note for check in outcome.checks for note in check.notes()):
        print(f"note: {note}", file=sys.stderr)
    if not outcome.passed:
        print(f"autograder: nothing was released (assignments/ is unchanged): the check failed for "
              f"{', '.join(check.name for check in outcome.checks if check.problems())}:", file=sys.stderr)
        for problem in (problem for check in outcome.checks for problem in check.problems()):
            print(f"  {problem}", file=sys.stderr)
        print("Fix the instructor notebook in source/ (or, when the grader itself failed, the grader) and release "
              "again; `--skip-check` releases without the check.", file=sys.stderr)
        return 2
    for path in outcome.written:
        print(f"released {path.relative_to(course)}")
    return 0


def cmd_grade(args) -> int:
    course = _course(args)
    limits = None
    if args.cell_timeout or args.notebook_timeout:
        settings = grading.load_settings(course)
        limits = grading.Limits(cell_seconds=args.cell_timeout or settings.cell_seconds,
                                notebook_seconds=args.notebook_timeout or grading.Limits.notebook_seconds)
    results = grading.grade(course, args.assignment, args.submissions and Path(args.submissions),
                            args.csv and Path(args.csv), quiet=args.quiet, jobs=args.jobs, limits=limits,
                            progress=not args.quiet, feedback=not args.no_feedback, students=args.student)
    return _print_results(course, args.assignment, *results)


def cmd_report(args) -> int:
    course = _course(args)
    results = grading.report(course, args.assignment, csv_path=args.csv and Path(args.csv), quiet=args.quiet)
    return _print_results(course, args.assignment, *results)


def _print_results(course: Path, assignment: str, rows, intake, csv_path: Path) -> int:
    """The class at a glance, then every problem; exit status 1 if any submission was not graded."""
    width = max([len(row.student) for row in rows] + [7])
    print(f"\n{'student':<{width}}  {'score':>11}  status")
    for row in rows:
        score = "-" if row.score is None else f"{row.score:g} / {row.max_score:g}"
        print(f"{row.student:<{width}}  {score:>11}  {row.status}")
    problems = [f"{student}: {message}" if not message.startswith(("/", student)) else message
                for student, messages in sorted(intake.problems.items()) for message in messages]
    if problems or intake.failures:
        print("\nProblems (every other submission was graded):", file=sys.stderr)
        for message in problems + intake.failures:
            print(f"  {message}", file=sys.stderr)
    if intake.integrity:
        print("\nIntegrity report (suspicious acts; they earn nothing, look at these submissions):")
        by_student: dict[str, list[dict]] = {}
        for finding in intake.integrity:
            by_student.setdefault(finding["student_id"], []).append(finding)
        for student, findings in sorted(by_student.items()):
            kinds = sorted({f["kind"] for f in findings})
            print(f"  {student}: {', '.join(kinds)}")
    print(f"\nGrades: {csv_path}")
    folder = grading.results_folder(grading.load_settings(course), assignment)
    print(f"Per submission: {folder}/<student>.json; class: {folder}/pass_rates.csv, {folder}/integrity.csv")
    print(f"Feedback: {course / 'feedback'}/<student>/{assignment}/")
    return 1 if (problems or intake.failures) else 0


def cmd_validate(args) -> int:
    text, ok = validate(Path(args.notebook), timeout=args.timeout)
    print(text)
    return 0 if ok else 1


def cmd_clean(args) -> int:
    course = _course(args)
    groups = notebooks.committed_notebooks(course)
    for folder, paths in groups.items():
        for path in paths:
            notebook = notebooks.read_notebook(path)
            notebooks.write(notebooks.clean(notebook, keep_outputs=folder == "lessons"), path)
    problems = [p for folder, paths in groups.items() for path in paths
                for p in notebooks.hygiene_problems(path, keep_outputs=folder == "lessons")]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"cleaned {sum(len(paths) for paths in groups.values())} notebooks")
    return 1 if problems else 0


def add_instructor_commands(commands) -> None:
    release = commands.add_parser(
        "release", help="check, then regenerate the student versions in assignments/ from source/",
        description="Run nbgrader generate_assignment for each assignment in source/ (or the ones named) into a "
                    "scratch folder and clean the student notebooks. Then grade each notebook twice in the sandbox, "
                    "as `grade` would: the instructor's solution, written into the student version, must earn every "
                    "automatic point, and the untouched student version none (written answers are not automatic "
                    "points). Only when both hold for every notebook are the student versions copied into "
                    "assignments/; otherwise nothing is released, each offending cell is named with the reason, "
                    "and the exit status is 2.")
    release.add_argument("assignments", nargs="*", help="assignment names (default: all in source/)")
    release.add_argument("--skip-check", action="store_true",
                         help="release without grading the solution and the untouched version (a warning says so)")
    release.add_argument("--jobs", type=int, help="notebooks graded at once by the check (default: one per core)")
    release.set_defaults(handler=cmd_release)

    grade = commands.add_parser(
        "grade", help="autograde a folder of submissions, write feedback and a CSV of grades",
        description="Run every submission's code in a sandbox (bubblewrap), score it with the hidden tests in "
                    "the grader's own process, record the scores in nbgrader's gradebook, generate feedback "
                    "without hidden tests, and export one CSV row per student, a JSON result per submission, "
                    "pass rates per part and an integrity report. Submissions are only read. A score given by "
                    "hand in Formgrader is kept, and marked for review again if the answer it was given for "
                    "changed. Exit status 1 "
                    "when any submission had a problem (it is named and scored 0 for what did not run); 2 when "
                    "nothing could be graded (no sandbox, unknown assignment or student).")
    grade.add_argument("assignment", help="assignment name, e.g. ps1_gradient_descent")
    grade.add_argument("--submissions", help="folder laid out as <student>/<assignment>/*.ipynb "
                                             "(default: submitted/ in the course)")
    grade.add_argument("--csv", help="where to write grades (default: grades/<assignment>.csv in the course)")
    grade.add_argument("--jobs", type=int, help="notebooks graded at once (default: one per core)")
    grade.add_argument("--cell-timeout", type=float, help="seconds per cell (default: Execute.timeout of the config)")
    grade.add_argument("--notebook-timeout", type=float, help="seconds per notebook (default 600)")
    grade.add_argument("--no-feedback", action="store_true", help="grade only; write feedback later with `report`")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student (repeat for several); the others' gradebook rows, results "
                            "and feedback stay as they are, and the CSV still lists the whole class")
    grade.set_defaults(handler=cmd_grade)

    report = commands.add_parser(
        "report", help="rewrite feedback and the CSV from the gradebook (after manual grading)",
        description="After grading written answers in JupyterLab's Formgrader, regenerate every graded "
                    "student's feedback and the CSV from the gradebook, without grading again.")
    report.add_argument("assignment", help="assignment name, e.g. ps1_gradient_descent")
    report.add_argument("--csv", help="where to write grades (default: grades/<assignment>.csv in the course)")
    report.set_defaults(handler=cmd_report)
    lms.add_commands(commands)
    edition.add_commands(commands)


def build_parser() -> argparse.ArgumentParser:
    description = ("Release, grade and validate the course's assignments." if INSTRUCTOR
                   else "Check the course's assignments before you submit them.")
    parser = argparse.ArgumentParser(prog="autograder", description=description,
                                     epilog=EPILOG if INSTRUCTOR else STUDENT_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", help="course folder holding nbgrader_config.py (default: found from here)")
    parser.add_argument("--quiet", action="store_true", help="hide nbgrader's own log")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)

    if INSTRUCTOR:
        add_instructor_commands(commands)

    check = commands.add_parser(
        "validate", help="run a notebook's visible tests; exit 1 if any fails",
        description="Run the notebook on a fresh kernel (the file is not changed) and report every test cell. "
                    "Only visible tests run here; hidden tests run when the work is graded.")
    check.add_argument("notebook", help="path to the .ipynb")
    check.add_argument("--timeout", type=int, default=60, help="seconds allowed per cell (default 60)")
    check.set_defaults(handler=cmd_validate)

    if INSTRUCTOR:  # maintainers' command: it needs the course folder
        clean = commands.add_parser("clean", help="normalise notebook metadata; strip outputs from source/ and assignments/",
                                    description="Lessons keep their outputs; instructor and student notebooks are "
                                                "stored without. Exit 1 if a notebook still has a problem.")
        clean.set_defaults(handler=cmd_clean)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (grading.GradingError if INSTRUCTOR else notebooks.NotebookError, notebooks.NotebookError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
