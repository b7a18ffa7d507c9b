"""The check that opens every lesson and assignment: is this kernel ready for the course?

It prints one line when everything is in place, and otherwise exactly what is missing and how to fix it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib import metadata

from packaging.requirements import Requirement

# Module to import -> distribution whose version is checked against pyproject's bounds.
MODULES = {"numpy": "numpy", "matplotlib": "matplotlib", "sklearn": "scikit-learn", "scipy": "scipy",
           "autograder.checks": None, "nnfs.data": None}
# Found but not imported: importing nbgrader starts its server extensions (seconds), which no notebook needs.
LOCATED = {"nbgrader": "nbgrader"}
FIX = "In a terminal in the course folder run `make lab` (it installs what is missing), then restart this kernel."


def course_requirements() -> dict[str, Requirement]:
    """The version bounds the course was tested with, as installed with the course package."""
    try:
        declared = metadata.requires("nn-from-scratch") or []
    except metadata.PackageNotFoundError:
        return {}
    return {Requirement(text).name.lower(): Requirement(text) for text in declared if "extra ==" not in text}


def problems() -> list[str]:
    """What is wrong with this Python environment for the course (an empty list when nothing is)."""
    found = []
    if sys.version_info < (3, 10):
        found.append(f"Python {sys.version.split()[0]} is too old: the course needs Python 3.10 or newer.")
    requirements = course_requirements()
    for module, distribution in MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError as error:
            found.append(f"`import {module}` fails ({error}).")
            continue
        found.extend(_version_problem(requirements, distribution))
    for module, distribution in LOCATED.items():
        if importlib.util.find_spec(module) is None:
            found.append(f"`import {module}` fails (No module named '{module}').")
            continue
        found.extend(_version_problem(requirements, distribution))
    return found


def _version_problem(requirements: dict, distribution: str | None) -> list[str]:
    requirement = requirements.get(distribution or "")
    if requirement is None:
        return []
    version = metadata.version(distribution)
    if version not in requirement.specifier:
        return [f"{distribution} {version} is installed but the course needs {requirement.specifier}."]
    return []


def check_environment() -> bool:
    """Print whether the environment is ready; return True when it is."""
    if os.environ.get("NBGRADER_EXECUTION"):
        # nbgrader's convention: set while a grader runs the notebook, in the course's own environment.
        print("Environment OK: this notebook is being graded in the course's environment.")
        return True
    found = problems()
    if not found:
        print("Environment OK: the course packages and helpers are installed.")
        return True
    print("This kernel is not ready for the course:")
    for problem in found:
        print(f"  - {problem}")
    print(FIX)
    return False
