"""The student edition: built from the course, free of instructor material, and enough on its own to work in.

The edition is built once for the module. Installing it from its zip (the README's own setup commands, a new
virtual environment from the package index) takes most of the module's time, so it starts in the background
as soon as the zip exists and the other tests run meanwhile; `test_slow_install_from_the_zip_...` waits for it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from traitlets.config.loader import PyFileConfigLoader

from autograder import edition as ed
from conftest import ROOT, copy_course, run_autograder

ASSIGNMENT = "ps1_gradient_descent"
INSTRUCTOR_MODULES = sorted(p.name for p in (ROOT / "autograder").glob("*.py") if p.name not in ed.STUDENT_MODULES)


def student_env() -> dict[str, str]:
    """The environment of a student's terminal: nothing of the project's virtual environment."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not key.startswith("JUPYTER")}
    project_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != project_bin)
    return env


def readme_setup_commands(readme: str) -> str:
    """The first code block of the README's "Set up" section: the commands a student is told to run."""
    section = readme.split("\n## Set up\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.*?)```", section, flags=re.S)[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(edition folder, zip, background `make setup` process, its log, unpacked folder) built with the command."""
    folder = tmp_path_factory.mktemp("dist") / "student-edition"
    result = run_autograder("edition", "--output", str(folder))
    assert result.returncode == 0, result.stderr
    zip_path = folder.with_name("student-edition.zip")
    assert f"built {folder}/" in result.stdout and f"zipped {zip_path}" in result.stdout, result.stdout
    unpacked = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    student = unpacked / "student-edition"
    log = (unpacked / "setup.log").open("w")
    commands = readme_setup_commands((student / "README.md").read_text())
    setup = subprocess.Popen(["bash", "-euo", "pipefail", "-c", commands], cwd=student, env=student_env(),
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield folder, zip_path, setup, unpacked / "setup.log", student
    if setup.poll() is None:  # the install test was not selected, or failed before waiting for it
        os.killpg(setup.pid, signal.SIGTERM)
        setup.wait()
    log.close()


def copy_of(folder: Path, destination: Path) -> Path:
    return Path(shutil.copytree(folder, destination))


def region_lines(kind: str) -> list[str]:
    """Lines inside ### BEGIN/END <kind> markers of the ps1 instructor notebook, read here independently."""
    text = "\n".join(cell.source for cell in nbformat.read(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                                           as_version=4).cells)
    return [line.strip() for body in re.findall(rf"### BEGIN {kind}\n(.*?)### END {kind}", text, flags=re.S)
            for line in body.splitlines()]


def unpublished(lines: list[str]) -> str:
    """The longest of ``lines`` that no student version holds (the most specific line to plant)."""
    published = "\n".join(p.read_text() + "\n" + "\n".join(c.source for c in nbformat.read(p, as_version=4).cells)
                          for p in (ROOT / "assignments").rglob("*.ipynb"))
    candidates = [line for line in lines if line not in published and line not in ed.public_lines(ROOT)]
    return max(candidates, key=len)


def test_edition_holds_the_student_files_and_nothing_else(built):
    folder = built[0]
    files = set(ed.edition_files(folder))
    tracked = {f"{name}/{p.relative_to(ROOT / name).as_posix()}" for name in ("lessons", "assignments", "nnfs")
               for p in (ROOT / name).rglob("*")
               if p.is_file() and not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts) and p.suffix != ".pyc"}
    expected = tracked | {f"autograder/{module}" for module in ed.STUDENT_MODULES} | {
        "README.md", "Makefile", "pyproject.toml", "environment.yml", "nbgrader_config.py"}
    expected |= {p.name for p in ROOT.glob("LICEN[CS]E*")}
    assert files == expected
    for name in tracked:  # lessons keep their outputs; student versions and nnfs are copied as they are
        assert (folder / name).read_bytes() == (ROOT / name).read_bytes(), name
    assert (folder / "Makefile").read_text() == (ROOT / "student" / "Makefile").read_text()


def test_edition_package_has_no_instructor_module(built):
    package = built[0] / "autograder"
    assert {"grading.py", "runner.py", "remote.py", "feedback.py", "edition.py"} <= set(INSTRUCTOR_MODULES)
    assert sorted(p.name for p in package.iterdir()) == sorted(ed.STUDENT_MODULES)
    for module in package.glob("*.py"):
        # Imports at the top level run on every use; cli.py's instructor imports sit under `if INSTRUCTOR:`.
        for node in ast.parse(module.read_text()).body:
            if not isinstance(node, ast.ImportFrom) or not (node.level or node.module.startswith("autograder.")):
                continue
            names = [node.module.split(".")[-1]] if node.module else [alias.name for alias in node.names]
            for name in names:
                assert f"{name}.py" in ed.STUDENT_MODULES, f"{module.name} imports autograder.{name}"
    # ... and what the lessons and assignments import from the package is in it.
    paths = sorted((built[0] / "lessons").glob("*.ipynb")) + sorted((built[0] / "assignments").rglob("*.ipynb"))
    used = {name for path in paths for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
            for name in re.findall(r"(?:from|import) autograder\.(\w+)", cell.source)}
    assert "environment" in used and "selfcheck" in used
    assert {f"{name}.py" for name in used} <= set(ed.STUDENT_MODULES), used


def test_leak_check_finds_nothing_in_the_edition(built):
    secrets = ed.secret_lines(ROOT)
    origins = " ".join(secret.origin for secret in secrets)
    assert len(secrets) > 300 and "hidden tests of" in origins and "model answer or rubric of" in origins
    assert ed.check_edition(ROOT, built[0]) == []


def test_every_public_line_is_still_an_instructor_line_found_in_the_edition(built):
    """student/public-lines.txt excuses only lines that need it, so it cannot slowly excuse everything."""
    unexcused = {secret.line for secret in ed.secret_lines(ROOT, allowed=set())}
    text = "\n".join(ed.readable_text(built[0] / name) for name in ed.edition_files(built[0]))
    for line in ed.public_lines(ROOT):
        assert line in unexcused, f"public-lines.txt: {line!r} is no longer in an instructor region; remove it"
        assert line in text, f"public-lines.txt: {line!r} is no longer in the edition; remove it"


@pytest.mark.parametrize("kind", ["solution", "hidden test", "rubric"])
def test_leak_check_catches_a_planted_line(built, tmp_path, kind):
    copy = copy_of(built[0], tmp_path / "student-edition")
    if kind == "solution":
        line = unpublished(region_lines("SOLUTION"))
        target = copy / "nnfs" / "mlp.py"
        target.write_text(target.read_text() + f"\n# {line}\n")
    elif kind == "hidden test":
        line = unpublished(region_lines("HIDDEN TESTS"))
        target = copy / "lessons" / "03_gradient_descent.ipynb"  # in an output, as JSON
        notebook = nbformat.read(target, as_version=4)
        code = next(cell for cell in notebook.cells if cell.cell_type == "code" and cell.outputs)
        code.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=line + "\n"))
        nbformat.write(notebook, target)
    else:
        line = unpublished([line for line in region_lines("SOLUTION") if "point" in line and "\\" in line])
        target = copy / "lessons" / "01_what_is_machine_learning.ipynb"
        notebook = nbformat.read(target, as_version=4)
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"Notes:\n{line}"))
        nbformat.write(notebook, target)
        assert line not in target.read_text(), "the backslash should be escaped in the file's JSON"
    assert line not in ed.readable_text(built[0] / target.relative_to(copy))
    problems = ed.check_edition(ROOT, copy)
    name = target.relative_to(copy).as_posix()
    assert any(problem.startswith(f"{name}: holds a line of ") and repr(line)[:60] in problem
               for problem in problems), problems


def test_leak_check_names_instructor_files_modules_and_markers(built, tmp_path):
    copy = copy_of(built[0], tmp_path / "student-edition")
    shutil.copytree(ROOT / "source" / ASSIGNMENT, copy / "source" / ASSIGNMENT)
    (copy / "gradebook.db").write_bytes(b"SQLite format 3\0")
    (copy / "feedback" / "alice").mkdir(parents=True)
    (copy / "feedback" / "alice" / "ps1.html").write_text("<p>ok</p>")
    shutil.copy(ROOT / "autograder" / "grading.py", copy / "autograder" / "grading.py")
    (copy / "nnfs" / "notes.txt").write_text("### BEGIN HIDDEN TESTS\n")
    problems = "\n".join(ed.check_edition(ROOT, copy))
    for expected in (f"source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb: named like an instructor's file",
                     "gradebook.db: named like an instructor's file",
                     "feedback/alice/ps1.html: named like an instructor's file",
                     "autograder/grading.py: not a student module",
                     "nnfs/notes.txt: holds the nbgrader marker 'BEGIN HIDDEN TESTS'"):
        assert expected in problems, problems


def test_zip_holds_exactly_the_folder(built):
    folder, zip_path = built[0], built[1]
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(info.filename for info in archive.infolist())
        assert names == sorted(f"student-edition/{name}" for name in ed.edition_files(folder))
        for name in names:
            assert archive.read(name) == (folder.parent / name).read_bytes(), name


def test_student_project_files_follow_the_course(built, monkeypatch):
    folder = built[0]
    course = tomllib.loads((ROOT / "pyproject.toml").read_text())
    student = tomllib.loads((folder / "pyproject.toml").read_text())
    assert student["project"]["dependencies"] == course["project"]["dependencies"]
    assert all("<" in str(Requirement(text).specifier) for text in student["project"]["dependencies"])
    for key in ("name", "version", "requires-python"):
        assert student["project"][key] == course["project"][key]
    assert "optional-dependencies" not in student["project"]
    assert student["project"]["scripts"] == {"autograder": "autograder.cli:main"}
    assert student["tool"]["setuptools"]["packages"] == ["autograder", "nnfs", "nnfs.texts"]
    assert student["tool"]["setuptools"]["package-data"] == {"nnfs.texts": ["*.txt"]}
    assert "pytest" not in student.get("tool", {})
    conda = yaml.safe_load((folder / "environment.yml").read_text())
    listed = [entry for entry in conda["dependencies"]
              if isinstance(entry, str) and not re.match(r"^(python|pip)\b", entry)]
    assert listed == course["project"]["dependencies"]
    assert {"pip": ["-e ."]} in conda["dependencies"]

    config_text = (folder / "nbgrader_config.py").read_text()
    assert not re.search(r"source|[Ff]eedback|Preprocessor", config_text)
    assert re.findall(r"autograder\.[\w.]+", config_text) == ["autograder.validate",
                                                              "autograder.exchange.PrivateSubmit"]
    monkeypatch.delenv("NBGRADER_EXCHANGE", raising=False)
    alone = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    assert alone.Exchange.root == str(folder / "exchange") and "submit" not in alone.ExchangeFactory
    # The Validate button reports what `autograder validate` reports (autograder/validate.py, shipped).
    assert callable(alone.Execute.on_notebook_start) and alone.Execute.timeout == 60
    monkeypatch.setenv("NBGRADER_EXCHANGE", "/srv/exchange")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()
    course_id = ed.config_constants(ROOT / "nbgrader_config.py")["CourseDirectory.course_id"]
    assert config.CourseDirectory.course_id == course_id == "nn-from-scratch"
    assert config.Exchange.root == "/srv/exchange"
    assert config.ExchangeFactory.submit == "autograder.exchange.PrivateSubmit"  # shipped: see the install test
    assert "source_directory" not in config.CourseDirectory


def test_build_refuses_missing_or_stale_assignments(tmp_path):
    course = copy_course(tmp_path / "course")
    shutil.rmtree(course / "assignments" / ASSIGNMENT)
    stale = course / "assignments" / "ps2_backpropagation" / "ps2_backpropagation.ipynb"
    notebook = nbformat.read(stale, as_version=4)
    notebook.cells[1].source += "\n\nEdited by hand."
    nbformat.write(notebook, stale)
    output = tmp_path / "out" / "student-edition"
    result = run_autograder("--course", str(course), "edition", "--output", str(output))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb: missing" in result.stderr
    assert "assignments/ps2_backpropagation/ps2_backpropagation.ipynb: out of date" in result.stderr
    assert not output.exists() and not output.with_name("student-edition.zip").exists()


def test_build_refuses_a_leak_and_keeps_the_earlier_edition(built, tmp_path):
    course = copy_course(tmp_path / "course")
    for name in ("lessons", "nnfs", "autograder", "student"):
        shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "environment.yml"):
        shutil.copy(ROOT / name, course / name)
    line = unpublished(region_lines("HIDDEN TESTS"))
    lesson = course / "lessons" / "03_gradient_descent.ipynb"
    notebook = nbformat.read(lesson, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell(line))
    nbformat.write(notebook, lesson)
    output = copy_of(built[0], tmp_path / "dist" / "student-edition")
    before = ed.edition_files(output)
    result = run_autograder("--course", str(course), "edition", "--output", str(output))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "lessons/03_gradient_descent.ipynb: holds a line of source/" in result.stderr
    assert ed.edition_files(output) == before and not output.with_name("student-edition.zip").exists()
    assert [p.name for p in output.parent.iterdir()] == ["student-edition"], "the refused build left files behind"


def run_student(student: Path, *command: str) -> subprocess.Popen:
    """Start a command of the edition's own environment in the edition, as a student's terminal would."""
    return subprocess.Popen([str(student / ".venv" / "bin" / command[0]), *command[1:]], cwd=student,
                            env=student_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def filled_in(released: Path, source: Path) -> nbformat.NotebookNode:
    """The student version with every answer typed in (written ones too, which validate would list as TODO):
    the instructor's solution without its markers."""
    answers = {cell.metadata.nbgrader["grade_id"]: re.sub(r" *### (BEGIN|END) SOLUTION\n?", "", cell.source)
               for cell in nbformat.read(source, as_version=4).cells
               if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
            cell.source = answers[cell.metadata.nbgrader["grade_id"]]
    return notebook


@pytest.mark.slow
def test_slow_install_from_the_zip_validates_and_runs_jupyterlab(built):
    """Unpacked from the zip and set up with the README's commands only, the edition works on its own."""
    setup, log, student = built[2], built[3], built[4]
    assert setup.wait(timeout=900) == 0, log.read_text()[-3000:]
    notebook = Path("assignments") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    answered = notebook.with_name(f"{ASSIGNMENT}_answered.ipynb")
    nbformat.write(filled_in(student / notebook, ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                   student / answered)
    untouched = run_student(student, "autograder", "validate", str(notebook))
    complete = run_student(student, "autograder", "validate", str(answered))  # both kernels at once: 2 cores
    untouched_out, complete_out = untouched.communicate(timeout=300)[0], complete.communicate(timeout=300)[0]
    assert untouched.returncode == 1, untouched_out
    assert re.search(r"^\s+TODO\s+test_numerical_derivative", untouched_out, flags=re.M), untouched_out
    assert complete.returncode == 0, complete_out
    assert "All visible tests pass" in complete_out

    help_text = run_student(student, "autograder", "--help").communicate(timeout=120)[0]
    listed = help_text.split("positional arguments:")[1].split("options:")[0]
    assert re.findall(r"^ {4}(\w+)", listed, flags=re.M) == ["validate"], help_text
    probe = run_student(student, "python", "-c", "import importlib.util as u, autograder, autograder.exchange; "
                                                 "print(autograder.__file__, u.find_spec('autograder.grading'))")
    probe_out = probe.communicate(timeout=120)[0]
    assert probe_out.startswith(str(student / "autograder")) and probe_out.strip().endswith("None"), probe_out

    lab = run_student(student, "jupyter", "lab", "--version")
    lab_out = lab.communicate(timeout=120)[0]
    assert lab.returncode == 0 and re.search(r"^4\.\d+\.\d+$", lab_out, flags=re.M), lab_out
    extensions = run_student(student, "jupyter", "labextension", "list")
    listing = re.sub(r"\x1b\[[0-9;]*m", "", extensions.communicate(timeout=120)[0])
    assert re.search(r"@jupyter/nbgrader\s+v\S+\s+enabled", listing), listing
    assert re.search(r"Disabled extensions:(\n\s+\S+)*\n\s+@jupyter/nbgrader:formgrader", listing), listing
