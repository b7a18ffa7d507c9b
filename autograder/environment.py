"""The check that opens every lesson and assignment: is this kernel ready for the course?

It prints one line when everything is in place, and otherwise exactly what is missing and how to fix it.
"""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

from packaging.requirements import Requirement

# Module to import -> distribution whose version is checked against pyproject's bounds.
MODULES = {"numpy": "numpy", "matplotlib": "matplotlib", "sklearn": "scikit-learn", "scipy": "scipy",
           "nbgrader": "nbgrader", "autograder.checks": None, "nnfs.data": None}
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
        requirement = requirements.get(distribution or "")
        if requirement is not None:
            version = metadata.version(distribution)
            if version not in requirement.specifier:
                found.append(f"{distribution} {version} is installed but the course needs {requirement.specifier}.")
    return found


def check_environment() -> bool:
    """Print whether the environment is ready; return True when it is."""
    found = problems()
    if not found:
        print("Environment OK: the course packages and helpers are installed.")
        return True
    print("This kernel is not ready for the course:")
    for problem in found:
        print(f"  - {problem}")
    print(FIX)
    return False
