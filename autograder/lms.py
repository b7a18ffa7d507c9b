"""Moving submissions and grades between a learning-management system and the course folder.

``autograder import`` files a folder of notebooks downloaded from an LMS (one file per student, named with the
student id) into nbgrader's layout ``<submitted>/<student_id>/<assignment>/<notebook>.ipynb``, where
``autograder grade`` finds them. ``autograder export`` writes one CSV of every assignment's score from the
gradebook, ready to upload to the LMS.

Downloaded files are only read. A submission is written under a temporary name and then renamed, so a file
in ``submitted/`` is always either the old or the new one, and a different existing submission is replaced
only with ``--force``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import MissingEntry

from . import grading
from .gradebook import final_score, load_settings

# nbgrader's own format for timestamp.txt (as `nbgrader submit` writes it), e.g. 2026-11-30 17:04:05.123456 UTC.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
TIMESTAMP_FILE = "timestamp.txt"
# A Canvas "Download submissions" name: <login>[_late]_<user id>_<submission id>_<the student's own file name>.
CANVAS_NAME = re.compile(r"(?P<student>.+?)(?:_late)?_\d+_\d+_.+", re.IGNORECASE)
SEPARATOR = r"[-_. ]"
ID_RULE = "letters, digits and . _ @ + -, starting with a letter or digit"

NAMING_HELP = """\
How a file's name gives the student id (the .ipynb extension aside), unless --pattern is given:
  1. a Canvas download name <id>[_late]_<digits>_<digits>_<anything>: the id is the part before the digits
     (smithjohn_12345_67890_ps1_gradient_descent.ipynb -> smithjohn);
  2. otherwise the whole name, less the assignment's name before or after it, joined by _ - . or a space
     (alice.ipynb, alice_ps1_gradient_descent.ipynb, ps1_gradient_descent-alice.ipynb -> alice).
The assignment's name is matched ignoring case, with _ - and spaces interchangeable. Ids must be usable by
nbgrader (letters, digits and . _ @ + -). Hidden files are ignored; other files and folders are reported.
Timestamps: <name>.timestamp.txt next to a notebook, else timestamp.txt in the folder (for every file), else
the file's modification time; written to timestamp.txt in nbgrader's format (2026-11-30 17:04:05.123456 UTC).
"""


# --- import ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Naming:
    """The rule turning a downloaded file's name into a student id: the default rule, or ``--pattern``."""
    assignment: str
    pattern: re.Pattern | None = None

    def student(self, name: str) -> str | None:
        """The student id in file name ``name`` (e.g. ``alice_ps1.ipynb``), or None if the name does not fit."""
        stem = name[:-len(".ipynb")]
        if self.pattern is not None:
            match = self.pattern.fullmatch(stem) or self.pattern.fullmatch(name)
            return (match.group("student") or None) if match else None
        # The LMS may change the assignment name's case or swap its separators.
        title = "[-_ ]+".join(re.escape(word) for word in re.split(r"[-_ ]+", self.assignment) if word)
        canvas = CANVAS_NAME.fullmatch(stem)
        student = canvas.group("student") if canvas else stem
        if not canvas:
            for affix in (rf"(?P<student>.+?){SEPARATOR}+{title}", rf"{title}{SEPARATOR}+(?P<student>.+)"):
                match = re.fullmatch(affix, stem, re.IGNORECASE)
                if match:
                    student = match.group("student")
                    break
        # An id still holding the assignment's name comes from a name this rule does not know
        # (alice_ps1_gradient_descent-1, ps1_gradient_descent alone): better refused than filed under a wrong id.
        return None if re.search(title, student, re.IGNORECASE) else student

    def expected(self, example: str | None) -> str:
        """What names this rule accepts, with an example, for a message about a name that does not fit."""
        if self.pattern is not None:
            shown = f"; e.g. {example} matched" if example else ""
            return (f"expected a name matching --pattern {self.pattern.pattern!r} (the whole name, with or "
                    f"without .ipynb; group 'student' is the id){shown}")
        return (f"expected the student id, alone or with the assignment name before or after it, e.g. "
                f"alice.ipynb or alice_{self.assignment}.ipynb, or a Canvas download name such as "
                f"smithjohn_12345_67890_{self.assignment}.ipynb")


@dataclass
class Download:
    """One downloaded notebook that names a usable student."""
    path: Path
    student: str
    timestamp: str  # nbgrader format


@dataclass
class ImportResult:
    """What an import did; ``skipped`` messages each name the file and the reason."""
    submissions: Path
    new: list[str] = field(default_factory=list)  # student ids
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # roster ids without a file (with a note if submitted before)
    sources: dict[str, Path] = field(default_factory=dict)  # student id -> downloaded file

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.missing


def compile_pattern(pattern: str) -> re.Pattern:
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise grading.GradingError(f"--pattern {pattern!r} is not a valid regular expression: {error}") from None
    if "student" not in compiled.groupindex:
        raise grading.GradingError(f"--pattern {pattern!r} has no group named 'student', e.g. "
                                   r"'(?P<student>[a-z0-9]+)_ps1'")
    return compiled


def read_roster(path: Path) -> list[str]:
    """Student ids from a CSV file with a ``student_id`` column, or from a list with one id per line.

    In a list, blank lines and lines starting with # are ignored. Every id must be usable (``grading.STUDENT_ID``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets often start a CSV with a byte-order mark
    except (OSError, UnicodeDecodeError) as error:
        raise grading.GradingError(f"Roster {path} cannot be read ({error}).") from None
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    header = [column.strip() for column in next(csv.reader([first]), [])]
    if "student_id" in header:
        reader = csv.DictReader(io.StringIO(text))
        reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
        entries = [(reader.line_num, (row.get("student_id") or "").strip()) for row in reader]
    elif len(header) > 1:
        raise grading.GradingError(f"Roster {path} looks like a CSV file but has no student_id column "
                                   f"(columns: {', '.join(header)}).")
    else:
        entries = [(number, line.strip()) for number, line in enumerate(lines, 1)]
    ids = []
    for number, student in entries:
        if not student or student.startswith("#"):
            continue
        if not grading.STUDENT_ID.match(student):
            raise grading.GradingError(f"Roster {path}, line {number}: {student!r} is not a usable student id "
                                       f"({ID_RULE}).")
        ids.append(student)
    if not ids:
        raise grading.GradingError(f"Roster {path} lists no student ids.")
    return ids


def read_timestamp(path: Path) -> str:
    """The timestamp in a timestamp.txt file, checked the way nbgrader parses it."""
    from nbgrader.utils import parse_utc
    try:
        text = path.read_text(encoding="utf-8").strip()
        parse_utc(text)
    except Exception as error:  # dateutil raises several types for a bad date
        raise ValueError(f"{path}: not a timestamp nbgrader can read ({error}); expected e.g. "
                         f"{datetime(2026, 11, 30, 17, 4, 5, 123456).strftime(TIMESTAMP_FORMAT)}") from None
    return text


def modified_time(path: Path) -> str:
    # From whole nanoseconds: a float of seconds since 1970 cannot hold every microsecond.
    seconds, nanoseconds = divmod(path.stat().st_mtime_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, timezone.utc).replace(microsecond=nanoseconds // 1000)
    return moment.strftime(TIMESTAMP_FORMAT)


def scan(folder: Path, naming: Naming, roster: list[str] | None, result: ImportResult) -> list[Download]:
    """Every notebook in ``folder`` naming a usable student (on the roster, if any); problems go to ``result``."""
    shared = folder / TIMESTAMP_FILE
    shared_time = None
    if shared.is_file():
        try:
            shared_time = read_timestamp(shared)
        except ValueError as error:
            raise grading.GradingError(str(error)) from None
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    notebooks = [p for p in entries if p.is_file() and p.name.lower().endswith(".ipynb")]
    companions = {p.with_name(p.name[:-len(".ipynb")] + ".timestamp.txt") for p in notebooks}
    if not notebooks:
        raise grading.GradingError(f"{folder} holds no notebooks (.ipynb files directly inside it).")
    examples = [p.name for p in notebooks if naming.student(p.name)]
    allowed = set(roster) if roster is not None else None
    found: dict[str, list[Download]] = defaultdict(list)
    for path in entries:
        if path.name.startswith(".") or path == shared or path in companions:
            continue  # hidden files are an OS's or a zip tool's; timestamps are used with their notebooks
        if path.is_dir():
            result.skipped.append(f"{path}: a folder; only the files directly in {folder} are imported")
            continue
        if path not in notebooks:
            result.skipped.append(f"{path}: not a notebook (.ipynb)")
            continue
        student = naming.student(path.name)
        if student is None:
            expected = naming.expected(examples[0] if examples else None)
            result.skipped.append(f"{path}: no student id in the name; {expected}")
            continue
        if not grading.STUDENT_ID.match(student):
            result.skipped.append(f"{path}: {student!r} is not a usable student id ({ID_RULE}); rename the file "
                                  "or pass --pattern")
            continue
        if allowed is not None and student not in allowed:
            result.skipped.append(f"{path}: {student} is not on the roster")
            continue
        companion = path.with_name(path.name[:-len(".ipynb")] + ".timestamp.txt")
        try:
            timestamp = read_timestamp(companion) if companion.is_file() else shared_time or modified_time(path)
        except ValueError as error:
            result.skipped.append(f"{path}: {error}")
            continue
        found[student].append(Download(path, student, timestamp))
    downloads = []
    for student, files in sorted(found.items()):
        if len(files) > 1:  # which one is the submission is the instructor's call, so neither is taken
            for download in files:
                others = ", ".join(d.path.name for d in files if d is not download)
                result.skipped.append(f"{download.path}: {student} has another file here too ({others}); "
                                      "neither was imported: keep one")
        else:
            downloads.append(files[0])
    if roster is not None:
        result.missing = [s for s in roster if s not in found]
    return downloads


def _write_atomically(destination: Path, copy) -> None:
    """Write ``destination`` through a temporary file in its folder; ``copy(temporary_path)`` fills it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".import-", suffix=".tmp")
    os.close(handle)
    try:
        copy(temporary)
        os.replace(temporary, destination)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def import_submissions(course: Path, assignment: str, folder: Path, submissions: Path | None = None,
                       pattern: str | None = None, roster: Path | None = None,
                       force: bool = False) -> ImportResult:
    """File downloaded notebooks as ``<submissions>/<student>/<assignment>/<notebook>.ipynb`` with a timestamp.txt.

    submissions: where the submissions go (default: the course's submitted/ folder)
    pattern: regular expression with a group named ``student``, replacing the default naming rule
    roster: a file of the class's student ids; other ids are refused and roster students without a file reported
    force: replace an existing submission that differs from the downloaded file (else it is kept and reported)
    """
    course = Path(course).resolve()
    settings = load_settings(course)
    available = grading.source_assignments(course)
    if assignment not in available:
        raise grading.GradingError(f"No assignment {assignment} in {course / 'source'}; "
                                   f"available: {', '.join(available) or 'none'}")
    notebook_names = grading.expected_notebooks(course, assignment)
    if len(notebook_names) != 1:
        raise grading.GradingError(f"{assignment} has {len(notebook_names)} notebooks ({', '.join(notebook_names)}); "
                                   "import files one notebook per student, so it handles one-notebook assignments "
                                   f"only: put the files in <student>/{assignment}/ yourself.")
    folder = Path(folder)
    if not folder.is_dir():
        raise grading.GradingError(f"No folder {folder}: give the folder holding the downloaded notebooks.")
    naming = Naming(assignment, compile_pattern(pattern) if pattern is not None else None)
    students = read_roster(roster) if roster is not None else None
    submissions = Path(submissions or settings.root / settings.submitted_directory).resolve()
    result = ImportResult(submissions)
    for download in scan(folder, naming, students, result):
        target = submissions / download.student / assignment
        destination = target / f"{notebook_names[0]}.ipynb"
        try:
            content = download.path.read_bytes()
            existed = destination.is_file()
            if existed and destination.read_bytes() == content:
                result.unchanged.append(download.student)
                result.sources[download.student] = download.path
                continue
            if existed and not force:
                result.skipped.append(f"{download.path}: {download.student} already has a different submission, "
                                      f"{destination}; kept it (pass --force to replace it)")
                continue
            # The timestamp goes first: if interrupted between the two writes, the notebook still differs,
            # so importing again completes the submission.
            _write_atomically(target / TIMESTAMP_FILE,
                              lambda temporary: Path(temporary).write_text(download.timestamp + "\n", encoding="utf-8"))
            _write_atomically(destination, lambda temporary: shutil.copyfile(download.path, temporary))
        except OSError as error:
            result.skipped.append(f"{download.path}: could not be imported ({error})")
            continue
        (result.replaced if existed else result.new).append(download.student)
        result.sources[download.student] = download.path
    if students is not None:
        result.missing = [f"{s} (has an earlier submission in {submissions / s / assignment})"
                          if (submissions / s / assignment).is_dir() else s for s in result.missing]
    result.skipped.sort()  # each message starts with its file, so files read in folder order
    return result


def _course(args) -> Path:
    return Path(args.course).resolve() if args.course else grading.find_course_root()


def cmd_import(args) -> int:
    result = import_submissions(_course(args), args.assignment, Path(args.folder),
                                args.submissions and Path(args.submissions), args.pattern,
                                args.roster and Path(args.roster), args.force)
    for label, students in (("imported", result.new), ("replaced", result.replaced),
                            ("unchanged", result.unchanged)):
        for student in students:
            print(f"{label:<9} {student}  (from {result.sources[student].name})")
    if result.skipped:
        print("\nSkipped (nothing was written for these):", file=sys.stderr)
        for message in result.skipped:
            print(f"  {message}", file=sys.stderr)
    if result.missing:
        print(f"\nMissing (on the roster, no file in {args.folder}):", file=sys.stderr)
        for student in result.missing:
            print(f"  {student}", file=sys.stderr)
    imported = len(result.new) + len(result.replaced)
    print(f"\nImported {imported} ({len(result.new)} new, {len(result.replaced)} replaced), "
          f"{len(result.unchanged)} already up to date, skipped {len(result.skipped)}, "
          f"missing {len(result.missing)}. Submissions: {result.submissions}")
    return 0 if result.ok else 1


# --- export ----------------------------------------------------------------------------------------------

def number(value: float) -> str:
    """A score without trailing zeros: 17, 17.5, 0.25 (rounded to 6 decimals, so sums show no float noise)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def lms_table(course: Path, assignments: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """The LMS grade table: columns, and one row per student in the gradebook, sorted by student id.

    Columns: student_id, then <assignment> (score after any late penalty, empty without a submission) and
    <assignment>_max for each assignment (default: every assignment in the gradebook, by due date then name),
    then total (a missing submission counts 0), total_max (every assignment's maximum), pending_manual
    (assignments whose submission still waits for a person, separated by spaces).
    Scores and maxima are nbgrader's, task cells included. A submission waits for a person while any part is
    marked for manual grading: a written answer or task cell not scored yet, an answer changed since it was
    scored by hand, or a test the grader could not carry out; a part scored by hand and unchanged since does not.
    """
    settings = load_settings(course)
    database = settings.db_url.split("sqlite:///", 1)[1] if settings.db_url.startswith("sqlite:///") else None
    if database and database != ":memory:" and not Path(database).is_file():
        # Opening it would create an empty gradebook; exporting must not change the course folder.
        raise grading.GradingError(f"No gradebook at {database}: grade an assignment first "
                                   "(`autograder grade <assignment>`).")
    with settings.gradebook() as gradebook:
        recorded = [a.name for a in gradebook.assignments]
        if not recorded:
            raise grading.GradingError("The gradebook has no assignments yet: grade one first "
                                       "(`autograder grade <assignment>`).")
        chosen = list(dict.fromkeys(assignments)) if assignments else recorded
        unknown = [a for a in chosen if a not in recorded]
        if unknown:
            raise grading.GradingError(f"No assignment {', '.join(unknown)} in the gradebook; "
                                       f"recorded: {', '.join(recorded)}")
        maxima = {name: gradebook.find_assignment(name).max_score or 0.0 for name in chosen}
        columns = ["student_id"] + [c for name in chosen for c in (name, f"{name}_max")] + \
                  ["total", "total_max", "pending_manual"]
        rows = []
        for student in sorted(s.id for s in gradebook.students):
            cells, total, pending = [student], 0.0, []
            for name in chosen:
                try:
                    submission = gradebook.find_submission(name, student)
                except MissingEntry:
                    cells += ["", number(maxima[name])]
                    continue
                score = final_score(submission)  # after any late penalty
                total += score
                if submission.needs_manual_grade:
                    pending.append(name)
                cells += [number(score), number(maxima[name])]
            rows.append(cells + [number(total), number(sum(maxima.values())), " ".join(pending)])
    return columns, rows


def export_grades(course: Path, output: Path | None = None,
                  assignments: list[str] | None = None) -> tuple[Path, list[str], list[list[str]]]:
    """Write :func:`lms_table` as CSV to ``output`` (default grades/lms.csv in the course) in one rename."""
    course = Path(course).resolve()
    columns, rows = lms_table(course, assignments)
    output = Path(output or load_settings(course).root / "grades" / "lms.csv").resolve()

    def write(temporary: str) -> None:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
    _write_atomically(output, write)
    return output, columns, rows


def cmd_export(args) -> int:
    output, columns, rows = export_grades(_course(args), args.output and Path(args.output), args.assignments)
    assignments = (len(columns) - 4) // 2
    print(f"Wrote {len(rows)} students x {assignments} assignments to {output}")
    return 0


def add_commands(commands) -> None:
    """Add this module's subcommands to the ``autograder`` command line (``commands``: argparse subparsers)."""
    import argparse

    intake = commands.add_parser(
        "import", help="file notebooks downloaded from an LMS into submitted/<student>/<assignment>/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Copy a folder of downloaded notebooks, one per student named with the student id, into "
                    "nbgrader's layout <submissions>/<student>/<assignment>/<notebook>.ipynb with a "
                    "timestamp.txt. The downloaded files are only read; an existing submission that differs is "
                    "kept unless --force; importing the same files again changes nothing. Exit status 1 when "
                    "a file was skipped or a roster student has no file, 2 when nothing could be imported "
                    "(unknown assignment, no such folder).",
        epilog=NAMING_HELP)
    intake.add_argument("assignment", help="assignment name, e.g. ps1_gradient_descent (one notebook)")
    intake.add_argument("folder", help="folder holding the downloaded notebooks")
    intake.add_argument("--submissions", help="where to file them (default: submitted/ in the course)")
    intake.add_argument("--pattern", help="regular expression for the file name (with or without .ipynb) whose "
                                          "group 'student' is the id, e.g. '(?P<student>.+)_ps1'")
    intake.add_argument("--roster", help="the class: a CSV file with a student_id column, or one id per line")
    intake.add_argument("--force", action="store_true", help="replace existing submissions that differ")
    intake.set_defaults(handler=cmd_import)

    export = commands.add_parser(
        "export", help="write every student's scores from the gradebook as one CSV for the LMS",
        description="One row per student in the gradebook, sorted by id: student_id, <assignment> and "
                    "<assignment>_max for each assignment (the score after any late penalty, empty without a "
                    "submission), total, "
                    "total_max, and pending_manual (assignments still waiting for manual grading or review).")
    export.add_argument("--output", help="CSV file to write (default: grades/lms.csv in the course)")
    export.add_argument("--assignments", nargs="+", metavar="A",
                        help="only these assignments, in this order (default: all in the gradebook)")
    export.set_defaults(handler=cmd_export)
