"""Feedback keeps hidden tests hidden (their source, and what their failures would reveal), shows a visible
failure as `autograder validate` does, says "pending" for what a person grades and shows its maths offline.
tests/test_grading.py reads the pages of a graded class; tests/test_browser_feedback.py opens one offline."""

import html
import re

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.feedback import (HIDDEN_PLACEHOLDER, STUDENT_RAISED, VISIBLE_FAILURE, FeedbackGrades, HideHiddenTests,
                                 RenderMath, remove_hidden_region, render_math, safe_error_summary)
from autograder.validate import collect_results, report
from conftest import ROOT

TEST_CELL = '''assert_close(f(1), 2.0)
### BEGIN HIDDEN TESTS
assert_close(f(7), 49.5, show_expected=False)
assert f(3) == 4.25
### END HIDDEN TESTS'''


def test_hidden_region_is_replaced_by_one_placeholder():
    source, found = remove_hidden_region(TEST_CELL)
    assert found
    assert source == "assert_close(f(1), 2.0)\n" + HIDDEN_PLACEHOLDER
    assert remove_hidden_region("x = 1") == ("x = 1", False)


def test_error_summaries_drop_bare_assert_messages_and_keep_check_summaries():
    assert safe_error_summary("AssertionError", "4.25 != 4.0") == "AssertionError: a hidden test failed."
    assert safe_error_summary("CheckFailure", "f(7): the value is not close.\nReturned: 1") == \
        "CheckFailure: f(7): the value is not close."
    assert safe_error_summary("NameError", "name 'f' is not defined") == "NameError: name 'f' is not defined"


def test_preprocessor_rewrites_only_cells_with_hidden_tests():
    traceback = ["Traceback (most recent call last)", "----> 4 assert f(3) == 4.25", "AssertionError"]
    hidden = new_code_cell(TEST_CELL, outputs=[
        new_output("stream", name="stdout", text="debug 4.25\n"),
        new_output("error", ename="AssertionError", evalue="", traceback=traceback)])
    visible = new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")])
    notebook = new_notebook(cells=[hidden, visible])
    notebook, _ = HideHiddenTests().preprocess(notebook, {})
    text = nbformat.writes(notebook)
    assert "4.25" not in text and "49.5" not in text and "Traceback" not in text
    assert notebook.cells[0].outputs[0].text.startswith("A test in this cell failed.\nAssertionError")
    assert notebook.cells[1].outputs[0].text == "1\n"


def test_a_visible_failure_is_shown_whole_as_validate_shows_it_and_a_hidden_one_by_its_first_line():
    message = ("gradient_descent_1d(2x, 3.0, 0.1, 4): 4 of 5 values are not close to the correct result.\n"
               "Returned at index (4,): 6.2208\nExpected at index (4,): 1.2288\n(tolerance: rtol=1e-06, atol=1e-09)")
    # What `autograder validate` prints when the student's copy of the test cell fails so.
    test_cell = new_code_cell("assert_close(path, expected)", metadata={"nbgrader": {"grade": True, "points": 3,
                                                                                     "grade_id": "test_path"}},
                              outputs=[new_output("error", ename="CheckFailure", evalue=message, traceback=[])])
    printed, _ = report("ps1.ipynb", collect_results(new_notebook(cells=[test_cell])))
    validate_says = "\n".join(line.strip() for line in printed.split("\n")[2:-2])
    assert validate_says.startswith("CheckFailure: gradient_descent_1d(") and "Expected at index (4,)" in validate_says
    assert safe_error_summary("CheckFailure", VISIBLE_FAILURE + message) == validate_says
    assert safe_error_summary("CheckFailure", message) == \
        "CheckFailure: gradient_descent_1d(2x, 3.0, 0.1, 4): 4 of 5 values are not close to the correct result."
    assert safe_error_summary("ValueError", STUDENT_RAISED + "shapes (3,) and (4,) not aligned\nsecond line") == \
        "ValueError raised by your code: shapes (3,) and (4,) not aligned\nsecond line"


# --- the course's feedback page ----------------------------------------------------------------------------------

def feedback_page(notebook, score: float, max_score: float, pending_points: float = 0.0) -> str:
    """The HTML nbgrader's generate_feedback writes for ``notebook`` with the course's configuration: its template,
    and its preprocessors but FeedbackGrades, whose scores (and pending marks) the cells here already hold."""
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert {FeedbackGrades, HideHiddenTests, RenderMath} <= set(config.GenerateFeedback.preprocessors)
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    exporter = HTMLExporter(parent=converter, config=converter.config)  # as nbgrader's converter makes it
    for preprocessor in (HideHiddenTests, RenderMath, CSSHTMLHeaderPreprocessor):
        exporter.register_preprocessor(preprocessor, enabled=True)
    resources = {"nbgrader": {"notebook": "quiz", "score": score, "max_score": max_score, "late_penalty": 0,
                              "pending_points": pending_points}}
    page, _ = exporter.from_notebook_node(notebook, resources=resources)
    return page


def graded_cell(make, source: str, grade_id: str, score, points: float, pending: bool = False, **flags):
    meta = {"grade": True, "solution": False, "locked": False, "task": False, "grade_id": grade_id,
            "points": points, "score": score, "pending": pending, "schema_version": 3, **flags}
    return make(source, metadata={"nbgrader": meta})


QUIZ = [
    nbformat.v4.new_markdown_cell("The update is $x_{t+1} = x_t - \\eta \\nabla f(x_t)$, so\n\n"
                                  "$$\\frac{\\partial L}{\\partial W} = X^\\top G.$$\n\n"
                                  "Prices such as $5 and $10 stay text, and so does `$HOME` in code."),
    graded_cell(new_code_cell, "assert True", "test_ok", 2.0, 2.0),
    graded_cell(nbformat.v4.new_markdown_cell, "Because $\\sqrt d$ grows.", "written", 0.0, 3.0, pending=True,
                solution=True),
]


def test_a_part_waiting_for_a_person_says_pending_and_the_total_says_how_much_is_pending():
    text = visible_text(feedback_page(nbformat.v4.new_notebook(cells=QUIZ), 2.0, 5.0, pending_points=3.0))
    assert "quiz (Score so far: 2.0 / 5.0)" in text
    assert "3.0 points are pending" in text
    assert "Written response (Score: pending, out of 3.0)" in text and "Score: 0.0 / 3.0" not in text
    assert "Test cell (Score: 2.0 / 2.0)" in text
    graded = [graded_cell(nbformat.v4.new_markdown_cell, "An answer.", "written", 2.5, 3.0, solution=True)]
    text = visible_text(feedback_page(nbformat.v4.new_notebook(cells=graded), 2.5, 3.0))
    assert "quiz (Score: 2.5 / 3.0)" in text and "Score: 2.5 / 3.0" in text and "pending" not in text


def test_the_page_loads_nothing_from_the_internet_and_its_maths_is_drawn_into_it():
    page = feedback_page(nbformat.v4.new_notebook(cells=QUIZ), 2.0, 5.0, pending_points=3.0)
    assert not external_resources(page), external_resources(page)
    assert "MathJax" not in page and not re.search(r"<script[^>]*\bsrc=", page)  # no script to fetch, from anywhere
    drawings = re.findall(r'<span class="math( math-display)?"[^>]*><svg [^>]*aria-label="([^"]*)"', page)
    labels = [html.unescape(label) for _, label in drawings]
    assert labels == ["x_{t+1} = x_t - \\eta \\nabla f(x_t)", "\\frac{\\partial L}{\\partial W} = X^\\top G.",
                      "\\sqrt d"]
    assert [bool(display) for display, _ in drawings] == [False, True, False]
    text = visible_text(page)
    assert "Prices such as $5 and $10 stay text" in text and "$HOME" in text


def test_formulas_mathtext_cannot_draw_stay_readable_as_tex():
    shown = render_math("A matrix $\\begin{pmatrix} 1 & 0 \\end{pmatrix}$ here.")
    assert shown.startswith('A matrix <code class="math-tex"') and shown.endswith("</code> here.")
    assert html.unescape(re.sub(r"<[^>]+>", "", shown)) == "A matrix \\begin{pmatrix} 1 & 0 \\end{pmatrix} here."
    assert render_math("```\nx = $y$\n```\n$z$").startswith("```\nx = $y$\n```\n<span class=\"math\"")


def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def external_resources(page: str) -> list[str]:
    """Addresses a browser would fetch from the network: scripts, stylesheets, images, frames, CSS imports."""
    tags = re.findall(r"<(?:script|link|img|iframe|source|embed)\b[^>]*>", page, flags=re.I)
    found = [address for tag in tags for address in re.findall(r"""(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
                                                                    tag, flags=re.I)]
    return found + re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')\s]+)""", page, flags=re.I) \
        + re.findall(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", page, flags=re.I)
