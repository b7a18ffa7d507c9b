"""End to end in a real browser: what students and instructors do in JupyterLab with the course.

JupyterLab runs on a scratch copy of the course (nothing committed is changed) and Debian's chromium is driven
by Playwright. Every step is saved as a screenshot; a failure says where they are.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest

from browser_support import ROOT, STEP_TIMEOUT, Lab, MakeLab, Steps, copy_course_for_lab, launch_chromium

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # reported by the fixture below as a failure, not silently skipped
    expect = sync_playwright = None

LESSON = "lessons/03_gradient_descent.ipynb"
ASSIGNMENT = "ps1_gradient_descent"
TYPED_SOLUTION = "numerical_derivative"  # the solution cell a student types in the browser
RUN_ALL_TIMEOUT = 300_000  # milliseconds for every cell of the lesson to run
VIEWPORT = {"width": 1400, "height": 900}


# --- fixtures ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def playwright():
    if sync_playwright is None:
        pytest.fail("The Python package playwright is missing: run `make setup` (it is a test dependency in "
                    "pyproject.toml)", pytrace=False)
    manager = sync_playwright().start()
    yield manager
    manager.stop()


@pytest.fixture(scope="module")
def browser(playwright):
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a scratch copy of the course, shared by the tests of this file."""
    workspace = tmp_path_factory.mktemp("browser-lab")
    course = copy_course_for_lab(workspace / "course")
    state = workspace / "lab-state"
    state.mkdir()
    server = Lab(course, state)
    yield server
    server.stop()


@pytest.fixture
def session(request, browser, tmp_path_factory):
    """A fresh browser page and the folder its screenshots go to."""
    folder = tmp_path_factory.mktemp("screenshots-" + re.sub(r"\W+", "_", request.node.name))
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(STEP_TIMEOUT)
    expect.set_options(timeout=STEP_TIMEOUT)
    steps = Steps(context.new_page(), folder)
    yield steps
    context.close()


@pytest.fixture
def lab_session(lab, session):
    session.lab = lab
    yield session
    session.page.context.close()
    lab.shutdown_kernels()  # the kernels this test's notebooks started: the next test starts with none


# --- what a user does --------------------------------------------------------------------------------------------

def open_notebook(steps: Steps, path: str, workspace: str):
    """Open a notebook from its URL in a fresh JupyterLab workspace and wait until its kernel is ready."""
    page = steps.page
    page.goto(steps.lab.url(f"/lab/workspaces/{workspace}/tree/{path}"))
    expect(page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first).to_be_visible()
    # The toolbar's indicator may say idle before any kernel is there, and JupyterLab, loaded on a busy machine,
    # sometimes starts a second kernel and drops the first; wait until the status bar and the server agree.
    kernel_status = page.locator(".jp-StatusBar-TextItem[title^='Change kernel']")
    expect(kernel_status).to_have_text(re.compile(r"\| Idle$"), timeout=STEP_TIMEOUT * 2)
    wait_for_one_idle_kernel(steps.lab)
    expect(kernel_status).to_have_text(re.compile(r"\| Idle$"))
    return page


def wait_for_one_idle_kernel(lab: Lab, timeout: float = STEP_TIMEOUT / 1000) -> None:
    """Wait until the server runs exactly one kernel (each test starts with none), idle and connected."""
    deadline = time.monotonic() + timeout
    while True:
        kernels = lab.api("/api/kernels")
        if len(kernels) == 1 and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"] > 0:
            return
        assert time.monotonic() < deadline, f"the notebook's kernel did not settle: {kernels}"
        time.sleep(0.5)


def menu(page, top: str, item: str) -> None:
    """Click a menu of the menu bar, then one of its items, by their labels."""
    label = page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$"))
    page.locator(".lm-MenuBar-item", has=label).click()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
    page.locator(".lm-Menu-item", has=label).click()


def code_cell(page, text: str):
    cell = page.locator(".jp-Notebook .jp-CodeCell").filter(has=page.locator(".cm-content", has_text=text))
    expect(cell).to_have_count(1)
    return cell


def type_code(page, cell, code: str) -> None:
    """Replace a cell's code by typing it, as a student would, key by key."""
    cell.locator(".cm-content").click()  # edit mode in this cell
    expect(cell.locator(".cm-editor.cm-focused")).to_have_count(1)
    page.keyboard.press("Control+a")
    for number, line in enumerate(code.split("\n")):
        if number:
            page.keyboard.press("Enter")
            # The editor indents the new line by itself; select that so the line's own indentation replaces it.
            page.keyboard.press("Shift+Home")
        page.keyboard.type(line)
    page.keyboard.press("Escape")  # back to command mode


def save(page) -> None:
    page.keyboard.press("Control+s")
    expect(page.locator(".lm-TabBar-tab.jp-mod-current")).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))


def save_and_read(page, path):
    """Save the notebook open in the page (Ctrl+S) and read what was written."""
    before = path.stat().st_mtime_ns
    save(page)
    deadline = time.monotonic() + STEP_TIMEOUT / 1000
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.stat().st_mtime_ns != before, f"{path.name} was not saved"
    return nbformat.read(path, as_version=4)


def validate(page):
    """Click nbgrader's Validate button in the notebook toolbar; return the results dialog."""
    page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results", timeout=STEP_TIMEOUT * 2)
    return dialog


def close_dialog(page) -> None:
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


# --- notebooks on disk -------------------------------------------------------------------------------------------

def solutions(instructor_notebook) -> dict[str, str]:
    """grade_id -> what the student version of a solution cell holds once solved (the markers removed)."""
    answers = {}
    for cell in nbformat.read(instructor_notebook, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def cells_by_id(notebook_path) -> dict:
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in nbformat.read(notebook_path, as_version=4).cells
            if "grade_id" in cell.metadata.get("nbgrader", {})}


def wait_for_saved_source(path, grade_id: str, expected: str, timeout: float = STEP_TIMEOUT / 1000) -> None:
    deadline = time.monotonic() + timeout
    while (source := cells_by_id(path)[grade_id].source) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert source == expected, f"the saved cell {grade_id} is not what was typed:\n{source}\n--- typed ---\n{expected}"


# Run All marks every code cell [*] until it has run; after an error the cells left are reset to [ ].
PROMPTS = "[...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-CodeCell .jp-InputPrompt')]"
RUN_STARTED = f"() => {PROMPTS}.some(prompt => /\\[(\\*|\\d+)\\]/.test(prompt.textContent))"
RUN_FINISHED = f"""() => {PROMPTS}.every(prompt => !prompt.textContent.includes('*')) &&
  document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator').dataset.status === 'idle'"""
PLOTS = ".jp-OutputArea-output img[src^='data:image/png']"
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


# --- tests -------------------------------------------------------------------------------------------------------

def test_a_lesson_runs_all_its_cells_without_errors_and_draws_plots(lab_session):
    steps = lab_session
    with steps:
        page = open_notebook(steps, LESSON, "lesson")
        steps.shot("lesson_opened")
        # Start from no output at all, so that every plot and message below comes from this run.
        menu(page, "Edit", "Clear Outputs of All Cells")
        expect(page.locator(".jp-OutputArea-output")).to_have_count(0)
        steps.shot("outputs_cleared")
        menu(page, "Run", "Run All Cells")
        page.wait_for_function(RUN_STARTED, polling=200)
        page.wait_for_function(RUN_FINISHED, timeout=RUN_ALL_TIMEOUT, polling=500)
        steps.shot("all_cells_ran")
        # What ran, as the notebook records it once saved: error outputs, and cells that never ran.
        notebook = save_and_read(page, steps.lab.root / LESSON)
        code = [(number, cell) for number, cell in enumerate(notebook.cells, 1) if cell.cell_type == "code"]
        errors = [f"cell {number}: {output.ename}: {output.evalue}" for number, cell in code
                  for output in cell.outputs if output.output_type == "error"]
        assert not errors, f"{LESSON} shows errors in JupyterLab:\n" + "\n".join(errors)
        not_run = [number for number, cell in code if cell.source.strip() and cell.execution_count is None]
        assert not not_run, f"{LESSON}: Run All Cells did not run cells {not_run}"
        shown = page.locator(STDERR, has_text="Traceback").all_text_contents()
        assert not shown, f"{LESSON} shows tracebacks in JupyterLab:\n" + "\n---\n".join(shown)
        plots = page.locator(PLOTS)
        assert plots.count() >= 1, f"{LESSON} drew no plot (no PNG image in an output area)"
        plots.first.scroll_into_view_if_needed()
        expect(plots.first).to_be_visible()
        loaded = plots.first.evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, "the first plot is not a loaded image"
        steps.shot("first_plot")


def test_a_student_types_a_solution_and_validates_the_assignment(lab_session):
    steps = lab_session
    student_version = lab_session.lab.root / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    answers = solutions(lab_session.lab.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    assert student_version.exists(), f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb is missing: run `make release`"
    assert TYPED_SOLUTION in answers, f"source/{ASSIGNMENT} has no solution cell {TYPED_SOLUTION}"
    # Every other answer is already written in the scratch copy: only one is typed in the browser.
    notebook = nbformat.read(student_version, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers and grade_id != TYPED_SOLUTION:
            cell.source = answers[grade_id]
    nbformat.write(notebook, student_version)
    test_cell = next((cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")
                      and not cell.metadata["nbgrader"].get("solution") and TYPED_SOLUTION in cell.source), None)
    assert test_cell, f"assignments/{ASSIGNMENT} has no test cell that calls {TYPED_SOLUTION}"
    wrong = f"def {TYPED_SOLUTION}(f, x, h=1e-5):\n    return 0.0"

    with steps:
        page = open_notebook(steps, f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", "assignment")
        cell = code_cell(page, f"def {TYPED_SOLUTION}(")
        cell.scroll_into_view_if_needed()
        steps.shot("assignment_opened")

        type_code(page, cell, answers[TYPED_SOLUTION])
        steps.shot("solution_typed")
        save(page)
        wait_for_saved_source(student_version, TYPED_SOLUTION, answers[TYPED_SOLUTION])
        steps.shot("saved")
        dialog = validate(page)
        steps.shot("validated_correct")
        message = dialog.locator("#validation-message")
        expect(message).to_have_class(re.compile(r"\bvalidation-success\b"))
        expect(message).to_have_text("Success! Your notebook passes all the tests.")
        close_dialog(page)

        type_code(page, cell, wrong)
        steps.shot("wrong_solution_typed")
        save(page)
        wait_for_saved_source(student_version, TYPED_SOLUTION, wrong)
        dialog = validate(page)
        steps.shot("validated_wrong")
        expect(message).to_have_class(re.compile(r"\bvalidation-failed\b"))
        # The dialog shows the report of `autograder validate` (tests/test_browser_validate.py compares the two).
        text = "\n".join(message.locator("pre").all_inner_texts())
        failed = re.findall(r"^  FAIL  (\w+)", text, flags=re.M)
        assert failed == [test_cell.metadata["nbgrader"]["grade_id"]], \
            f"the failed cell is not (only) the test of {TYPED_SOLUTION}:\n{text}"
        assert "CheckFailure" in text, f"the failure does not show the check's message:\n{text}"
        close_dialog(page)


def test_formgrader_lists_the_course_assignments(lab_session):
    steps = lab_session
    expected = sorted(path.name for path in (lab_session.lab.root / "source").iterdir() if path.is_dir())
    assert ASSIGNMENT in expected
    with steps:
        page = steps.page
        page.goto(lab_session.lab.url("/lab/workspaces/formgrader"))
        expect(page.locator(".jp-DirListing-content")).to_be_visible()
        steps.shot("lab_opened")
        menu(page, "Nbgrader", "Formgrader")
        formgrader = page.frame_locator("iframe[src*='/formgrader']")
        names = formgrader.locator("td.name")
        expect(names.filter(has_text=re.compile(f"^{ASSIGNMENT}$"))).to_be_visible()
        steps.shot("formgrader_opened")
        listed = [name.strip() for name in names.all_text_contents()]
        assert set(expected) <= set(listed), f"formgrader lists {listed}, the course has {expected} in source/"


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(),
                    reason="make lab runs in the .venv that `make test` sets up")
def test_the_url_make_lab_prints_opens_the_course(session, tmp_path):
    """The main command, on the repository itself: only looked at, never changed."""
    # A workspace of its own, so that no notebook from an earlier session is reopened.
    lab = MakeLab(f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}")
    try:
        assert lab.url, "make lab printed no URL:\n" + lab.output()
        session.lab = lab
        with session as steps:
            page = steps.page
            page.goto(lab.url)
            listing = page.locator(".jp-DirListing-content .jp-DirListing-itemText")
            for folder in ("lessons", "assignments", "source"):
                expect(listing.filter(has_text=re.compile(f"^{folder}$"))).to_be_visible()
            expect(page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$"))).to_be_visible()
            steps.shot("lab_opened")
            listing.filter(has_text=re.compile("^lessons$")).dblclick()
            lesson = LESSON.split("/")[1]
            expect(listing.filter(has_text=re.compile(f"^{re.escape(lesson)}$"))).to_be_visible()
            steps.shot("lessons_listed")
    finally:
        lab.stop()


def test_a_browser_that_cannot_start_is_a_failure_that_says_how_to_install_it(playwright, tmp_path):
    with pytest.raises(pytest.fail.Exception) as failure:
        launch_chromium(playwright, executable=str(tmp_path / "no-chromium-here"))
    assert "Chromium could not start" in str(failure.value)
    assert "tools/system-packages.sh" in str(failure.value)
