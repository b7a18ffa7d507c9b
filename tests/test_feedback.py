"""Feedback keeps hidden tests hidden: their source, and what their failures would reveal."""

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.feedback import HIDDEN_PLACEHOLDER, HideHiddenTests, remove_hidden_region, safe_error_summary

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
