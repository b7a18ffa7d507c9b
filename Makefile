# Two commands do everything (see README.md):
#   make lab    set up .venv and start JupyterLab on the course
#   make test   set up .venv and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
LAB_PORT ?= 8888
LAB_ARGS ?=
# Tools installed in the environment (nbgrader calls `alembic`) must be found without activating it.
export PATH := $(BIN):$(PATH)
# JupyterLab refuses to run as root unless told it is intended (containers, CI machines).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup system lab test release clean-notebooks lessons distclean bench edition

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Debian packages for the browser tests and the student-code sandbox (chromium, bubblewrap).
system:
	bash tools/system-packages.sh

lab: setup
	@echo "Starting JupyterLab on the course, port $(LAB_PORT): open the address with a token that it prints below."
	@echo "Lessons are in lessons/, assignments in assignments/; the Formgrader tab is for instructors. Ctrl-C stops it."
	$(BIN)/jupyter lab --no-browser --ServerApp.root_dir="$(CURDIR)" --ServerApp.port=$(LAB_PORT) $(ALLOW_ROOT) $(LAB_ARGS)

# Test files run on TEST_WORKERS workers at once (pytest-xdist; conftest.py keeps each file on one worker): the
# suite waits on kernels, servers and other processes for about half of its time. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: setup system
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Maintainers: regenerate assignments/ from source/ after editing an instructor notebook. Each solution and
# each untouched student version is graded first; when one grades wrong, nothing is released (exit 2).
release: setup
	$(BIN)/autograder release

# Maintainers: re-execute every lesson in place after editing it (lessons are stored with outputs).
lessons: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace lessons/*.ipynb
	$(BIN)/autograder clean

clean-notebooks: setup
	$(BIN)/autograder clean

# Maintainers: build dist/student-edition/ and dist/student-edition.zip for students (refused, exit 2, when
# assignments/ is out of date or a file would hold a solution, hidden test or rubric).
edition: setup
	$(BIN)/autograder edition

distclean:
	rm -rf $(VENV) gradebook.db autograded feedback submitted grades exchange dist

# Print timings of lessons and of grading a class (figures, not pass/fail).
bench: setup
	$(BIN)/python benchmarks/timings.py
	$(BIN)/python benchmarks/grading_throughput.py
