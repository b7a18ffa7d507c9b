"""Suite-wide pytest settings for every test path, the lessons included (tests/conftest.py has the fixtures).

`make test` runs the suite on several workers (pytest-xdist, `-n`). Each file goes whole to one worker, so its
module fixtures (a graded flow, a server, a lesson's kernel, whose cells must run in order) are made once, and
the files that read the graded classes share a worker, so each class is graded once.
"""

import pytest

# The files whose tests use the session's graded classes (the graded_class fixture of tests/conftest.py).
GRADED_CLASS_FILES = {"tests/test_assignments.py", "tests/test_formgrader.py", "tests/test_grading.py"}


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or the graded classes."""
    file = str(nodeid).split("::", 1)[0]
    return "graded classes" if file in GRADED_CLASS_FILES else file


def pytest_collection_modifyitems(config, items):
    users = {str(item.nodeid).split("::", 1)[0] for item in items
             if "graded_class" in getattr(item, "fixturenames", ())}  # nbval's cells have no fixtures
    if users - GRADED_CLASS_FILES:
        raise pytest.UsageError(f"{', '.join(sorted(users - GRADED_CLASS_FILES))} use graded_class: add them to "
                                "GRADED_CLASS_FILES in conftest.py, so that the classes are graded once")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
