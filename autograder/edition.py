"""The student edition of the course: everything a student needs, nothing an instructor keeps.

``autograder edition`` builds ``dist/student-edition/`` and ``dist/student-edition.zip``: the lessons (with their
outputs), the student versions in assignments/, the ``nnfs`` package, the student side of this package (the
checks test cells import, ``autograder validate``), and a README, Makefile, pyproject.toml, environment.yml and
nbgrader_config.py written from the templates in ``student/`` and from the course's own files.

The build refuses, with exit status 2 and nothing written, when assignments/ is not what source/ generates
(missing, extra or out-of-date files) and when :func:`check_edition` finds anything: a line of a solution,
hidden test, model answer or rubric, a marker of one, a file named like an instructor's, or an instructor module.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import stat
import string
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import grading, notebooks
from .feedback import BEGIN_HIDDEN, END_HIDDEN

# What notebooks and students import or run; everything else in the package is the instructors' (grading, the
# sandbox, the gradebook, feedback, LMS files, this module). cli.py offers instructor commands only where
# autograder.grading is installed, so in the edition `autograder` has just `validate`.
# exchange.py: its PrivateSubmit keeps a submission private on a shared course server (student/nbgrader_config.py).
# selfcheck_answers.py: the answers the lessons' self-check cells are compared with (students may read it).
STUDENT_MODULES = ("__init__.py", "__main__.py", "checks.py", "cli.py", "environment.py", "exchange.py",
                   "notebooks.py", "selfcheck.py", "selfcheck_answers.py", "validate.py")
COPIED_FOLDERS = ("lessons", "assignments", "nnfs")
SKIPPED = (".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")
TEMPLATES = "student"  # README.md, Makefile, pyproject.toml, nbgrader_config.py and public-lines.txt
PUBLIC_LINES = "public-lines.txt"
DEFAULT_OUTPUT = Path("dist") / "student-edition"

# nbgrader's default delimiters (ClearSolutions, ClearHiddenTests, ClearMarkScheme), as this course uses them.
REGIONS = (("BEGIN SOLUTION", "END SOLUTION", "solution"),
           (BEGIN_HIDDEN, END_HIDDEN, "hidden tests"),
           ("BEGIN MARK SCHEME", "END MARK SCHEME", "mark scheme"))
MARKERS = tuple(marker for region in REGIONS for marker in region[:2])
# A line is worth looking for when it has this many characters besides spaces: `return x` or `else:` occur
# anywhere, `return gradient / len(X)` is a solution.
MIN_CHARS = 12
# Names of nbgrader's and the course's instructor files and folders; none belongs in the edition.
INSTRUCTOR_NAMES = {"source", "tests", "autograded", "feedback", "submitted", "grades", "exchange", "release",
                    "gradebook.db", ".nbgrader.log"}
INSTRUCTOR_SUFFIXES = (".db", ".db-journal", ".sqlite", ".sqlite3")
# Packed or compiled files cannot be read line by line, so nothing could be said about what they hold.
UNREADABLE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".pyc", ".whl")


class EditionError(grading.GradingError):
    """The edition cannot be built; the message lists every reason (the command exits with status 2)."""


@dataclass(frozen=True)
class Secret:
    """One line students must not get."""

    line: str    # the line's text without surrounding spaces
    origin: str  # where it is, e.g. "source/ps1_gradient_descent/ps1_gradient_descent.ipynb, hidden tests of test_x"


@dataclass
class Edition:
    """What :func:`build` made."""

    folder: Path
    zip_path: Path | None
    files: list[str]  # paths relative to ``folder``, "/"-separated, sorted


# --- what must not leak -------------------------------------------------------------------------------------------

def instructor_regions(cell) -> list[tuple[str, list[str]]]:
    """The instructor-only parts of one source cell as (kind, lines), kind e.g. "solution" or "hidden tests".

    A solution cell without markers counts whole, as nbgrader replaces it whole; in a markdown cell the solution
    is a model answer and its rubric.
    """
    lines = cell.source.split("\n")
    found = []
    for begin, end, kind in REGIONS:
        inside = None
        for line in lines:
            if begin in line:
                inside = []
            elif inside is not None and end in line:
                found.append((kind, inside))
                inside = None
            elif inside is not None:
                inside.append(line)
        if inside is not None:  # unterminated: nbgrader refuses such a notebook, but the text is still secret
            found.append((kind, inside))
    if cell.metadata.get("nbgrader", {}).get("solution") and not any(kind == "solution" for kind, _ in found):
        found.append(("solution", lines))
    if cell.cell_type == "markdown":
        found = [("model answer or rubric" if kind == "solution" else kind, body) for kind, body in found]
    return found


def meaningful(line: str) -> bool:
    """Whether a line is specific enough to look for (at least :data:`MIN_CHARS` non-space characters)."""
    return len(re.sub(r"\s", "", line)) >= MIN_CHARS


def public_lines(course: Path) -> set[str]:
    """Lines of instructor regions that the course publishes on purpose, from ``student/public-lines.txt``.

    Format: one line per line, compared after stripping spaces; blank lines and lines starting with ``#`` are
    comments.
    """
    path = Path(course) / TEMPLATES / PUBLIC_LINES
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")}


def readable_text(path: Path) -> str:
    """A file's text for searching: the bytes decoded as UTF-8 (errors ignored) and, for a notebook, every string
    in its JSON unescaped (cell sources, outputs, metadata), so quotes and backslashes read as in the notebook."""
    text = Path(path).read_bytes().decode("utf-8", errors="ignore")
    if Path(path).suffix != ".ipynb":
        return text
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text
    strings: list[str] = []

    def collect(node) -> None:
        if isinstance(node, str):
            strings.append(node)
        elif isinstance(node, list) and node and all(isinstance(item, str) for item in node):
            strings.append("".join(node))  # nbformat stores multi-line text as a list of lines
        elif isinstance(node, list):
            for item in node:
                collect(item)
        elif isinstance(node, dict):
            for key, value in node.items():
                strings.append(key)
                collect(value)
    collect(data)
    return text + "\n" + "\n".join(strings)


def secret_lines(course: Path, released: Path | None = None, allowed: set[str] | None = None) -> list[Secret]:
    """Every meaningful line of every instructor region in source/ that students do not already get.

    released: the student versions of the assignments (default: the course's assignments/). A line occurring in
        any of them is excluded: stubs (``raise NotImplementedError()``), imports and lines shared with visible
        tests are published by nbgrader anyway, so finding them proves nothing.
    allowed: lines published on purpose, also excluded (default: :func:`public_lines`).
    """
    course = Path(course)
    released = Path(released or course / "assignments")
    published = "\n".join(readable_text(path) for path in sorted(released.rglob("*.ipynb")))
    allowed = public_lines(course) if allowed is None else allowed
    found: dict[str, Secret] = {}
    for path in sorted((course / "source").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for index, cell in enumerate(notebooks.read_notebook(path).cells):
            name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index + 1}"
            for kind, lines in instructor_regions(cell):
                for line in lines:
                    text = line.strip()
                    if meaningful(text) and text not in found and text not in allowed and text not in published:
                        found[text] = Secret(text, f"{path.relative_to(course)}, {kind} of {name}")
    return list(found.values())


def edition_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (symbolic links included), as sorted "/"-separated relative paths."""
    folder = Path(folder)
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() or path.is_symlink())


def check_edition(course: Path, folder: Path, released: Path | None = None) -> list[str]:
    """Everything in ``folder`` that students must not get, one problem per line (empty when there is none).

    It names files called like an instructor's (source/, tests/, gradebook.db, *.db, ...), links and packed files
    (what they hold cannot be read), instructor modules of the ``autograder`` package, nbgrader markers, and any
    line of :func:`secret_lines` occurring anywhere in a file's :func:`readable_text`.
    released: the student versions the secret lines are compared with (default: the course's assignments/).
    """
    folder = Path(folder)
    secrets = secret_lines(course, released)
    problems = []
    for name in edition_files(folder):
        path = folder / name
        parts = name.split("/")
        if any(part in INSTRUCTOR_NAMES for part in parts) or name.endswith(INSTRUCTOR_SUFFIXES):
            problems.append(f"{name}: named like an instructor's file")
        if path.is_symlink():
            problems.append(f"{name}: a symbolic link (copy the file itself)")
            continue
        if name.endswith(UNREADABLE_SUFFIXES):
            problems.append(f"{name}: a packed or compiled file, which cannot be checked")
        if parts[0] == "autograder" and (len(parts) > 2 or parts[1] not in STUDENT_MODULES):
            problems.append(f"{name}: not a student module of the autograder package")
        text = readable_text(path)
        problems += [f"{name}: holds the nbgrader marker {marker!r}" for marker in MARKERS if marker in text]
        for secret in secrets:
            if secret.line in text:
                shown = secret.line if len(secret.line) <= 80 else secret.line[:77] + "..."
                problems.append(f"{name}: holds a line of {secret.origin}: {shown!r}")
    return problems


# --- assignments/ in step with source/ -------------------------------------------------------------------------------

def fresh_release(course: Path, destination: Path) -> Path:
    """Generate every assignment's student version from source/ into ``destination``, as `autograder release` does.

    It leaves the course's gradebook alone. Returns ``destination`` (laid out like assignments/).
    """
    if not grading.source_assignments(course):
        raise EditionError(f"No assignment in {course / 'source'}: there is nothing to release.")
    try:
        grading.release(course, release_dir=Path(destination), quiet=True)
    except grading.GradingError as error:
        raise EditionError(f"the student versions could not be generated: {error}") from None
    return Path(destination)


def stale_assignments(course: Path, fresh: Path) -> list[str]:
    """How the course's assignments/ differs from ``fresh`` (a :func:`fresh_release`), one problem per line."""
    committed_folder = Path(course) / "assignments"
    committed = set(_copied_files(committed_folder)) if committed_folder.is_dir() else set()
    generated = set(_copied_files(fresh))
    problems = [f"assignments/{name}: missing (run `autograder release`)" for name in sorted(generated - committed)]
    problems += [f"assignments/{name}: not generated from source/ (delete it, or add it to source/)"
                 for name in sorted(committed - generated)]
    problems += [f"assignments/{name}: out of date with source/ (run `autograder release`)"
                 for name in sorted(generated & committed)
                 if (committed_folder / name).read_bytes() != (Path(fresh) / name).read_bytes()]
    return problems


def _copied_files(folder: Path) -> list[str]:
    """The files of ``folder`` that a build copies (caches and checkpoints left out), as relative paths."""
    return [name for name in edition_files(folder)
            if not any(any(Path(part).match(pattern) for pattern in SKIPPED) for part in name.split("/"))]


# --- the student files ---------------------------------------------------------------------------------------------

def toml_value(value, inline: bool = False) -> str:
    """``value`` (str, bool, number, list, dict) as TOML; top-level lists one item a line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        if inline or not value:
            return "[" + ", ".join(toml_value(item, inline=True) for item in value) + "]"
        return "[\n" + "".join(f"    {toml_value(item, inline=True)},\n" for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v, inline=True)}" for k, v in value.items()) + " }"
    raise EditionError(f"pyproject.toml: cannot write {value!r} back as TOML")


def toml_key(key: str) -> str:
    """A TOML key: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def render(template: Path, values: dict) -> str:
    """``template`` (a student/ file with ``$name`` placeholders) filled in with ``values``."""
    try:
        return string.Template(template.read_text(encoding="utf-8")).substitute(values)
    except (KeyError, ValueError) as error:
        raise EditionError(f"{template}: unknown or malformed placeholder ({error})") from None


def read_toml(path: Path) -> dict:
    """A parsed TOML file (tomllib from Python 3.11; tomli, where installed, on 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise EditionError(f"{path}: reading it needs Python 3.11 or newer, or the tomli package") from None
    return tomllib.loads(Path(path).read_text(encoding="utf-8"))


def edition_pyproject(course: Path) -> str:
    """The edition's pyproject.toml: the project's build system, name, version, Python and requirements (without
    optional extras), the ``autograder`` command, and nnfs with its data files."""
    project_file = read_toml(Path(course) / "pyproject.toml")
    project, build = project_file["project"], project_file["build-system"]
    setuptools = project_file.get("tool", {}).get("setuptools", {})
    # The same packages, less the instructor's: autograder's sandboxed grading and its templates stay out.
    packages = [name for name in setuptools["packages"] if not name.startswith("autograder.")]
    package_data = {name: files for name, files in setuptools.get("package-data", {}).items()
                    if name in packages and name != "autograder"}
    values = {
        "build_requires": toml_value(build["requires"], inline=True),
        "build_backend": toml_value(build["build-backend"]),
        "name": toml_value(project["name"]),
        "version": toml_value(project["version"]),
        "requires_python": toml_value(project["requires-python"]),
        "license": toml_value(project["license"]),
        "dependencies": toml_value(project["dependencies"]),
        "scripts": "\n".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in project.get("scripts", {}).items()),
        "packages": toml_value(packages, inline=True),
        "package_data": "\n".join(f"{toml_key(k)} = {toml_value(v, inline=True)}" for k, v in package_data.items()),
    }
    return render(Path(course) / TEMPLATES / "pyproject.toml", values)


def edition_environment(course: Path) -> str:
    """The edition's environment.yml: name, channels and Python of the course's, requirements of its pyproject."""
    course = Path(course)
    conda = yaml.safe_load((course / "environment.yml").read_text(encoding="utf-8"))
    requirements = read_toml(course / "pyproject.toml")["project"]["dependencies"]
    basics = [entry for entry in conda["dependencies"]
              if isinstance(entry, str) and re.match(r"^(python|pip)\b", entry)]
    lines = ["# For conda users: `conda env create -f environment.yml`, then `conda activate "
             f"{conda['name']}` and `jupyter lab`.",
             "# The same requirements as pyproject.toml: both are written from the course's own pyproject.toml.",
             f"name: {conda['name']}", "channels:", *[f"  - {channel}" for channel in conda.get("channels", [])],
             "dependencies:", *[f"  - {entry}" for entry in basics + requirements],
             "  - pip:", "      - -e ."]
    return "\n".join(lines) + "\n"


def config_constants(path: Path) -> dict[str, object]:
    """Literal settings of an nbgrader_config.py, e.g. {"CourseDirectory.course_id": "nn-from-scratch"}.

    Read without running the file (running it imports the instructors' modules, which takes seconds).
    """
    found = {}
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                name = ast.unparse(target)
                if name.startswith("c."):
                    found[name[2:]] = node.value.value
    return found


def edition_nbgrader_config(course: Path) -> str:
    """The students' nbgrader_config.py: the course id and cell timeout of the course's, and its exchange rule."""
    settings = config_constants(Path(course) / "nbgrader_config.py")
    if "CourseDirectory.course_id" not in settings:
        raise EditionError(f"{course / 'nbgrader_config.py'}: no literal c.CourseDirectory.course_id to give students")
    return render(Path(course) / TEMPLATES / "nbgrader_config.py",
                  {"course_id": json.dumps(settings["CourseDirectory.course_id"]),
                   "timeout": repr(settings.get("Execute.timeout", 60))})


def notebook_title(path: Path) -> str:
    """The first level-1 heading of a notebook, without the ``#``; the file name when it has none."""
    for cell in notebooks.read_notebook(path).cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def edition_readme(course: Path) -> str:
    """The students' README: the template with the list of lessons and of assignments filled in."""
    course = Path(course)

    def listing(paths: list[Path]) -> str:
        return "\n".join(f"- `{path.relative_to(course).as_posix()}`: {notebook_title(path)}" for path in paths)
    groups = notebooks.committed_notebooks(course)
    return render(course / TEMPLATES / "README.md",
                  {"lessons": listing(groups["lessons"]), "assignments": listing(groups["assignments"])})


def assemble(course: Path, folder: Path) -> None:
    """Copy and write every file of the edition into the new folder ``folder``."""
    course, folder = Path(course), Path(folder)
    for name in COPIED_FOLDERS + ("autograder",):
        if not (course / name).is_dir():
            raise EditionError(f"{course / name}: missing; the edition needs it")
    for name in COPIED_FOLDERS:
        shutil.copytree(course / name, folder / name, ignore=shutil.ignore_patterns(*SKIPPED))
    (folder / "autograder").mkdir()
    for module in STUDENT_MODULES:
        shutil.copy2(course / "autograder" / module, folder / "autograder" / module)
    for license_file in sorted(course.glob("LICEN[CS]E*")):
        if license_file.is_file():
            shutil.copy2(license_file, folder / license_file.name)
    shutil.copy2(course / TEMPLATES / "Makefile", folder / "Makefile")
    written = {"README.md": edition_readme(course), "pyproject.toml": edition_pyproject(course),
               "environment.yml": edition_environment(course), "nbgrader_config.py": edition_nbgrader_config(course)}
    for name, text in written.items():
        (folder / name).write_text(text, encoding="utf-8")


def write_zip(folder: Path, zip_path: Path) -> None:
    """Zip ``folder`` as ``<folder name>/...`` with fixed dates, so the same files give the same archive."""
    partial = zip_path.with_name(zip_path.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in edition_files(folder):
            path = folder / name
            info = zipfile.ZipInfo(f"{folder.name}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    os.replace(partial, zip_path)


def _check_output(course: Path, output: Path) -> None:
    """Refuse an output folder that would overwrite the course or anything that is not an earlier edition."""
    if output == course or output in course.parents:
        raise EditionError(f"{output}: the output folder would hold the course itself; choose another (--output)")
    for name in COPIED_FOLDERS + ("autograder", "source", TEMPLATES):
        if output.is_relative_to(course / name):
            raise EditionError(f"{output}: inside the course's {name}/; choose another folder (--output)")
    if output.exists() and any(output.iterdir()) and not (output / "autograder" / "validate.py").is_file():
        raise EditionError(f"{output}: exists and is not an earlier student edition; choose a new or empty folder")


def build(course: Path, output: Path | None = None, make_zip: bool = True) -> Edition:
    """Build the student edition of ``course`` in ``output`` (default dist/student-edition/) and its zip next to it.

    Raises :class:`EditionError`, leaving any earlier edition as it was, when assignments/ is not in step with
    source/ or the new files fail :func:`check_edition`.
    """
    course = Path(course).resolve()
    output = Path(output or course / DEFAULT_OUTPUT).resolve()
    _check_output(course, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = fresh_release(course, Path(scratch) / "release")
        stale = stale_assignments(course, fresh)
        if stale:
            raise EditionError("assignments/ is not what source/ generates:\n  " + "\n  ".join(stale))
        # Built beside the output (same file system), then swapped in, so a refused build changes nothing.
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
        try:
            assemble(course, staging)
            problems = check_edition(course, staging, released=fresh)
            if problems:
                raise EditionError("the edition would give students instructor material:\n  "
                                   + "\n  ".join(problems))
            staging.chmod(0o755)
            if output.exists():
                shutil.rmtree(output)
            staging.rename(output)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    zip_path = output.with_name(output.name + ".zip")
    if make_zip:
        write_zip(output, zip_path)
    elif zip_path.exists():
        zip_path.unlink()  # an archive of an earlier build would no longer match the folder
    return Edition(output, zip_path if make_zip else None, edition_files(output))


def cmd_edition(args) -> int:
    """`autograder edition`: build, then say where the folder and the zip are."""
    course = Path(args.course).resolve() if args.course else grading.find_course_root()
    edition = build(course, Path(args.output) if args.output else None, make_zip=args.zip)

    def shown(path: Path) -> Path:
        return path.relative_to(course) if path.is_relative_to(course) else path
    print(f"built {shown(edition.folder)}/ ({len(edition.files)} files; no solution, hidden test or rubric in any)")
    if edition.zip_path:
        print(f"zipped {shown(edition.zip_path)}")
    return 0


def add_commands(commands) -> None:
    """Add this module's subcommands to the ``autograder`` command line (``commands``: argparse subparsers)."""
    edition = commands.add_parser(
        "edition", help="build the student edition (folder and zip) without any instructor material",
        description="Build dist/student-edition/ and dist/student-edition.zip: lessons, the student versions in "
                    "assignments/, the nnfs package, the student side of autograder, and a README, Makefile, "
                    "pyproject.toml, environment.yml and nbgrader_config.py for students. Exit status 2, with "
                    "nothing written, when assignments/ is not what source/ generates or when any file would "
                    "hold a line of a solution, hidden test or rubric, or is an instructor file.")
    edition.add_argument("--output", help="folder to build (default: dist/student-edition in the course); the zip "
                                          "is written next to it as <folder>.zip")
    edition.add_argument("--zip", action=argparse.BooleanOptionalAction, default=True,
                         help="also write the zip (default: yes; --no-zip removes an earlier one)")
    edition.set_defaults(handler=cmd_edition)
