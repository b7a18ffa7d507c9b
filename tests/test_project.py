"""Project-wide promises: one dependency list, clean notebooks, generated assignments in step with source/."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from autograder import notebooks
from conftest import ROOT, copy_course, run_autograder


def pip_requirements(with_extras: bool = True) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = list(project["dependencies"])
    if with_extras:
        texts += [text for extra in project.get("optional-dependencies", {}).values() for text in extra]
    return {Requirement(text).name.lower(): str(Requirement(text).specifier) for text in texts}


def conda_requirements() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in environment["dependencies"]:
        if isinstance(entry, str) and not re.match(r"^(python|pip)\b", entry):
            requirement = Requirement(entry)
            found[requirement.name.lower()] = str(requirement.specifier)
    return found


def test_environment_yml_and_pyproject_list_the_same_requirements():
    assert conda_requirements() == pip_requirements()
    for needed in ("jupyterlab", "numpy", "matplotlib", "nbgrader", "nbval", "scikit-learn", "pytest"):
        assert needed in pip_requirements()
    for name, specifier in pip_requirements().items():
        assert "<" in specifier, f"{name} needs an upper bound so a fresh install gets a tested combination"


def test_environment_yml_installs_the_project_itself():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = [entry for entry in environment["dependencies"] if isinstance(entry, dict)][0]["pip"]
    assert '-e ".[test]"' in pip_section


@pytest.mark.parametrize("folder", ["lessons", "source", "assignments"])
def test_committed_notebooks_are_clean(folder):
    paths = notebooks.committed_notebooks(ROOT)[folder]
    assert paths, f"no notebooks in {folder}/"
    problems = [p for path in paths for p in notebooks.hygiene_problems(path, keep_outputs=folder == "lessons")]
    assert not problems, "\n".join(problems)


def test_hygiene_check_catches_outputs_errors_and_personal_metadata(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    cell = new_code_cell("1/0", execution_count=1, outputs=[
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])])
    notebook = new_notebook(cells=[cell], metadata={"kernelspec": dict(notebooks.KERNELSPEC),
                                                    "colab": {"provenance": []}})
    path = tmp_path / "dirty.ipynb"
    nbformat.write(notebook, path)
    as_lesson = " ".join(notebooks.hygiene_problems(path, keep_outputs=True))
    assert "stores an error" in as_lesson and "colab" in as_lesson
    assert "has outputs" in " ".join(notebooks.hygiene_problems(path, keep_outputs=False))
    nbformat.write(notebooks.clean(notebook, keep_outputs=False), path)
    assert notebooks.hygiene_problems(path, keep_outputs=False) == []


def test_assignments_are_generated_from_source_and_in_step(tmp_path):
    course = copy_course(tmp_path / "course")
    result = run_autograder("--quiet", "release", cwd=course)
    assert result.returncode == 0, result.stderr
    generated = {p.relative_to(course / "assignments"): p.read_text()
                 for p in (course / "assignments").rglob("*") if p.is_file()}
    committed = {p.relative_to(ROOT / "assignments"): p.read_text()
                 for p in (ROOT / "assignments").rglob("*") if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    assert sorted(generated) == sorted(committed), "assignments/ holds other files than `autograder release` makes"
    stale = [str(name) for name in committed if committed[name] != generated[name]]
    assert not stale, f"assignments/ is out of date for {stale}: run `make release` and commit the result"


def test_sync_check_notices_a_hand_edited_student_version(tmp_path):
    course = copy_course(tmp_path / "course")
    student = next((course / "assignments").rglob("*.ipynb"))
    student.write_text(student.read_text().replace("YOUR CODE HERE", "YOUR CODE GOES HERE", 1))
    before = student.read_text()
    assert run_autograder("--quiet", "release", cwd=course).returncode == 0
    assert student.read_text() != before


def test_student_version_has_no_solutions_or_hidden_tests():
    for path in (ROOT / "assignments").rglob("*.ipynb"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "Rubric", "show_expected=False"):
            assert marker not in text, f"{path} contains {marker!r}"


def load_config(course: Path):
    from traitlets.config.loader import PyFileConfigLoader
    return PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()


def test_nbgrader_config_sets_up_the_course(tmp_path, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXCHANGE", raising=False)
    config = load_config(ROOT)
    assert config.CourseDirectory.course_id == "nn-from-scratch"
    assert config.CourseDirectory.source_directory == "source"
    assert config.CourseDirectory.release_directory == "assignments"
    assert config.CourseDirectory.root == str(ROOT)
    assert 0 < config.Execute.timeout <= 120
    assert "HideHiddenTests" in [cls.__name__ for cls in config.GenerateFeedback.preprocessors]
    exchange = Path(config.Exchange.root)
    assert exchange.is_relative_to(ROOT), "the default exchange must be inside the course, where the user can write"
    monkeypatch.setenv("NBGRADER_EXCHANGE", str(tmp_path / "shared"))
    assert load_config(ROOT).Exchange.root == str(tmp_path / "shared")


def test_nbgrader_extensions_are_enabled():
    jupyter = [sys.executable, "-m", "jupyter"]
    server = subprocess.run([*jupyter, "server", "extension", "list"], capture_output=True, text=True, check=True)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    for extension in ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.assignment_list",
                      "nbgrader.server_extensions.course_list", "nbgrader.server_extensions.validate_assignment"):
        assert re.search(re.escape(extension) + r"\s+enabled", listing), listing
    lab = subprocess.run([*jupyter, "labextension", "list"], capture_output=True, text=True, check=True)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", lab.stdout + lab.stderr)
    assert re.search(r"@jupyter/nbgrader\s+v\S+\s+enabled", listing), listing


def test_cli_help_lists_every_command():
    result = run_autograder("--help")
    assert result.returncode == 0
    for command in ("release", "grade", "validate", "clean"):
        assert command in result.stdout
    assert "grade ps1_gradient_descent --submissions" in result.stdout


def test_readme_gives_the_two_commands_first():
    readme = (ROOT / "README.md").read_text()
    first_section = readme.split("\n## ")[1]
    commands = re.findall(r"^(make \w+)", first_section, flags=re.M)
    assert commands == ["make lab", "make test"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")


def test_every_notebook_opens_with_the_environment_check():
    for folder, paths in notebooks.committed_notebooks(ROOT).items():
        for path in paths:
            first = notebooks.read_notebook(path).cells[0]
            assert first.cell_type == "code" and "check_environment()" in first.source, \
                f"{path}: the first cell should be the environment check"


def test_environment_check_says_what_is_wrong_and_how_to_fix_it(monkeypatch, capsys):
    from packaging.requirements import Requirement
    from autograder import environment
    assert environment.check_environment() is True
    assert capsys.readouterr().out == "Environment OK: the course packages and helpers are installed.\n"
    monkeypatch.setattr(environment, "course_requirements", lambda: {"numpy": Requirement("numpy<1")})
    monkeypatch.setitem(environment.MODULES, "missing_course_module", None)
    assert environment.check_environment() is False
    report = capsys.readouterr().out
    assert "numpy" in report and "but the course needs <1" in report
    assert "`import missing_course_module` fails" in report and "make lab" in report
