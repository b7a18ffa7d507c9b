"""Failure messages point the right way: which entries differ and how, the loss value before its gradient, nothing
hidden revealed, and the student's code (not the checks') in what a student sees."""

import re

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import CheckFailure, assert_close, check_backward, check_gradient
from autograder.validate import ANSI_ESCAPE, run_notebook
from conftest import run_autograder


def first_line(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as failure:
        check(*args, **kwargs)
    assert str(failure.value).splitlines()[0] == failure.value.summary
    return failure.value.summary


def linear_forward(X, W, b):
    return X @ W + b, (X, W)


def linear_backward(mistake: str = ""):
    """The affine layer's backward pass, with one classic mistake."""
    def backward(dout, cache):
        X, W = cache
        dX, dW, db = dout @ W.T, X.T @ dout, dout.sum(axis=0)
        if mistake == "sign":
            dW = -dW
        elif mistake == "transpose":
            dW = dW.T
        elif mistake == "mean":
            db = dout.mean(axis=0)
        elif mistake == "sum twice":
            db = len(dout) * dout.sum(axis=0)
        elif mistake == "column":
            dW = dW * np.array([1.0, -1.0, 1.0])
        elif mistake == "rows":
            dX = dX + np.outer(np.arange(len(dX)) < 3, [0.0, 1.0, 0.0])
        return dX, dW, db
    return backward


@pytest.fixture
def layer():
    rng = np.random.default_rng(7)
    return [rng.normal(size=(5, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)]


def test_a_wrong_gradient_says_which_rows_and_columns_differ(layer):
    summary = first_line(check_backward, linear_forward, linear_backward("rows"), layer, ["X", "W", "b"],
                         name="linear_backward")
    assert summary.startswith("linear_backward: gradient with respect to X does not match a centred-difference")
    assert summary.endswith(" in rows 0-2, column 1.")
    summary = first_line(check_backward, linear_forward, linear_backward("column"), layer, ["X", "W", "b"],
                         name="linear_backward")
    assert summary.endswith(" in column 1, every row: the sign is flipped there.")


@pytest.mark.parametrize("mistake, ending", [
    ("sign", "gradient with respect to W does not match a centred-difference estimate (relative error 1.00e+00): "
             "the sign is flipped."),
    ("transpose", ": the returned array is the transpose of the estimated one."),
    ("mean", "gradient with respect to b does not match a centred-difference estimate (relative error 6.67e-01): "
             "the returned values are 1/5 of the estimated ones (an extra division by 5, or a missing factor 5?)."),
    ("sum twice", "the returned values are 5 times the estimated ones (a missing division by 5, such as the average "
                  "over 5 examples?)."),
])
def test_a_wrong_gradient_names_the_mistake_that_explains_it(layer, mistake, ending):
    summary = first_line(check_backward, linear_forward, linear_backward(mistake), layer, ["X", "W", "b"],
                         name="linear_backward")
    assert summary.endswith(ending), summary


def test_assert_close_locates_and_explains_differences():
    right = np.arange(1.0, 13.0).reshape(3, 4)
    assert first_line(assert_close, right * [1, -1, 1, 1], right, name="A") == \
        "A: 3 of 12 values are not close to the correct result (column 1, every row): the sign is flipped there."
    assert first_line(assert_close, right / 8, right, name="A") == \
        "A: 12 of 12 values are not close to the correct result: the returned values are 1/8 of the correct ones " \
        "(an extra division by 8, or a missing factor 8?)."
    # A constant array is some factor times any other: no factor is named.
    assert first_line(assert_close, np.full(9, 1.1), np.full(9, -4.5), name="out") == \
        "out: 9 of 9 values are not close to the correct result."
    square = np.arange(9.0).reshape(3, 3)
    assert first_line(assert_close, square.T, square, name="S") == \
        "S: 6 of 9 values are not close to the correct result: the returned array is the transpose of the correct one."
    image = np.zeros((2, 3, 4, 5))
    assert first_line(assert_close, image + (np.arange(5) == 2), image, name="out") == \
        "out: 24 of 120 values are not close to the correct result (entries [:, :, :, 2])."
    scattered = np.zeros((5, 6))
    scattered[[0, 1, 2, 4], [1, 0, 3, 5]] = 1.0
    assert first_line(assert_close, scattered, np.zeros((5, 6)), name="M") == \
        "M: 4 of 30 values are not close to the correct result (entries (0, 1), (1, 0), (2, 3) and 1 more)."
    assert "transposed shape" in first_line(assert_close, np.zeros((4, 3)), np.zeros((3, 4)), name="dW")


def test_a_slightly_wrong_loss_is_reported_as_the_loss_value_not_its_gradient():
    """The loss of a softmax classifier with 1e-7 added inside the log, and the usual gradient of the exact loss."""
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(scale=2.0, size=(3, 4)), np.array([0, 1, 3])

    def probabilities(z):
        exps = np.exp(z - z.max(axis=1, keepdims=True))
        return exps / exps.sum(axis=1, keepdims=True)

    def exact_loss(z):
        return float(-np.mean(np.log(probabilities(z)[np.arange(3), labels])))

    def student_loss(z):
        return float(-np.mean(np.log(probabilities(z)[np.arange(3), labels] + 1e-7)))

    gradient = (probabilities(logits) - np.eye(4)[labels]) / 3
    check_gradient(exact_loss, gradient, logits, expected_value=exact_loss(logits))
    # Knowing the correct loss, the check says that the loss value differs, and never blames the gradient.
    with pytest.raises(CheckFailure) as failure:
        check_gradient(student_loss, gradient, logits, name="gradient of the loss", expected_value=exact_loss(logits))
    assert failure.value.summary == "gradient of the loss: the loss value differs from the correct one."
    assert "the gradient was not checked" in failure.value.details
    # Without it, the check still says that so small a difference points at the loss value.
    summary = first_line(check_gradient, student_loss, gradient, logits, name="gradient of the loss")
    assert "the difference is small, as when the loss value itself is slightly off" in summary


def test_a_wrong_forward_pass_is_reported_before_its_gradients(layer):
    def shifted_forward(X, W, b):
        return X @ W - b, (X, W)

    summary = first_line(check_backward, shifted_forward, linear_backward(), layer, ["X", "W", "b"],
                         name="linear_backward", expected_out=layer[0] @ layer[1] + layer[2])
    assert summary == "linear_backward: the forward output differs from the correct one: 15 of 15 values are not " \
                      "close to the correct result."
    check_backward(linear_forward, linear_backward(), layer, ["X", "W", "b"],
                   expected_out=layer[0] @ layer[1] + layer[2])


def digits(value: float) -> str:
    return f"{value:.8g}"


def test_hidden_mode_names_positions_and_mistakes_but_never_a_value():
    rng = np.random.default_rng(5)
    right = rng.normal(size=(4, 3))
    cases = ((-right, ": the sign is flipped."), (right / 4, ": the returned values are 1/4 of the"),
             (right.T.reshape(4, 3), "10 of 12 values are not close to the correct result (entries (0, 1), "),
             (right + np.outer([1, 0, 0, 1], [0, 1, 0]), "(rows 0, 3, column 1)."))
    for returned, said in cases:
        with pytest.raises(CheckFailure) as failure:
            assert_close(returned, right, name="weights", show_expected=False)
        message = str(failure.value)
        assert said in message.splitlines()[0] and "Expected" not in message
        hidden = {digits(v) for v in right.ravel()} - {digits(v) for v in np.asarray(returned).ravel()}
        assert not [value for value in hidden if re.search(rf"(?<![-\d.]){re.escape(value)}(?!\d)", message)], message
    # One number: a sign or a factor would be the value itself, so nothing is said about either.
    for returned in (-64.0, 128.0, 16.0):
        with pytest.raises(CheckFailure) as failure:
            assert_close(returned, 64.0, name="score_variance", show_expected=False)
        assert str(failure.value).splitlines()[0] == "score_variance: the value is not close to the correct result."
        assert "Expected" not in str(failure.value)
    with pytest.raises(CheckFailure) as failure:
        check_gradient(lambda v: float(v @ v) + 0.125, 2 * right[0], right[0],
                       expected_value=float(right[0] @ right[0]), show_expected=False)
    assert digits(float(right[0] @ right[0])) not in str(failure.value) and "Expected" not in str(failure.value)


def test_the_checks_leave_their_own_frames_out_of_a_failure(tmp_path):
    """Outside IPython, the same traceback is formatted by the traceback module."""
    with pytest.raises(CheckFailure) as failure:
        assert_close([1.0, 3.0], [1.0, 2.0], name="path")
    shown = "".join(failure.value._render_traceback_())
    assert "test_messages.py" in shown and "checks.py" not in shown
    assert shown.rstrip().endswith("(tolerance: rtol=1e-06, atol=1e-09)")


# --- In a kernel, and through `autograder validate` ---------------------------------------------------------------

def _cell(kind: str, grade_id: str, source: str):
    test = kind == "test"
    meta = {"grade": test, "solution": not test, "locked": test, "grade_id": grade_id, "schema_version": 3}
    if test:
        meta["points"] = 1
    return new_code_cell(source, metadata={"nbgrader": meta})


STUDENT_NOTEBOOK = [
    new_code_cell("import numpy as np"),
    _cell("solution", "conv2d_loop", "def conv2d_loop(x, w, b):\n    out = np.zeros(3)\n"
                                     "    out = out + np.pad(x, 'one')\n    return out\n"),
    _cell("solution", "conv2d_fast", "def conv2d_fast(x, w, b):\n    return x\n"),
    _cell("test", "test_conv2d_fast", '"""Checks conv2d_fast against conv2d_loop."""\n'
                                      "from autograder import assert_close\nx = np.ones((2, 2))\n"
                                      "assert_close(conv2d_fast(x, 1, 2), conv2d_loop(x, 1, 2), name='conv2d_fast')"),
    _cell("solution", "linear", "def linear_forward(X, W, b):\n    return X @ W + b, (X, W)\n\n"
                                "def linear_backward(dout, cache):\n    X, W = cache\n"
                                "    return dout @ W.T, X.T @ dout, dout.mean(axis=0)\n"),
    _cell("test", "test_linear", '"""Checks linear_backward."""\nfrom autograder import check_backward\n'
                                 "rng = np.random.default_rng(3)\n"
                                 "X, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)\n"
                                 "check_backward(linear_forward, linear_backward, [X, W, b], ['X', 'W', 'b'], "
                                 "name='linear_backward')"),
    _cell("solution", "relu", "def relu_backward(dout, cache):\n    return dout * (cache > 0) + 'one'\n"),
    _cell("test", "test_relu", '"""Checks relu_backward."""\nfrom autograder import check_backward\n'
                               "check_backward(lambda z: (np.maximum(z, 0), z), relu_backward, "
                               "[np.array([-1.0, 2.0])], ['z'], name='relu_backward')"),
]


@pytest.fixture(scope="module")
def attempt(tmp_path_factory):
    path = tmp_path_factory.mktemp("messages") / "attempt.ipynb"
    nbformat.write(new_notebook(cells=STUDENT_NOTEBOOK, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)
    return path


def test_the_kernel_shows_the_message_after_the_test_line_and_the_students_frames(attempt):
    notebook = run_notebook(attempt)
    shown = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                shown[cell.metadata["nbgrader"]["grade_id"]] = ANSI_ESCAPE.sub("", "\n".join(output["traceback"]))
    assert set(shown) == {"test_conv2d_fast", "test_linear", "test_relu"}
    for text in shown.values():
        assert "autograder/checks.py" not in text and "checks.py" not in text, text
    linear = shown["test_linear"]
    assert re.search(r"Cell In\[\d+\], line 5\n(.*\n)*----> 5 check_backward\(linear_forward", linear), linear
    assert linear.rstrip().splitlines()[-4].startswith("CheckFailure: linear_backward: gradient with respect to b")
    assert "1/4 of the estimated ones" in linear
    assert len(linear.splitlines()) < 16  # the test's lines and the message; before, some 30 lines of checks.py
    # An error raised by the student's function while a check called it: their frame, none of the check's.
    assert re.search(r"Cell In\[\d+\], line 2, in relu_backward\(dout, cache\)", shown["test_relu"])
    assert re.search(r"Cell In\[\d+\], line 3, in conv2d_loop\(x, w, b\)", shown["test_conv2d_fast"])


def test_validate_names_the_students_function_an_error_came_from(attempt):
    result = run_autograder("validate", str(attempt), timeout=300)
    assert result.returncode == 1
    report = result.stdout
    assert re.search(r"FAIL  test_conv2d_fast \(1 point\)\n\s+TypeError raised in your function conv2d_loop "
                     r'\(cell "conv2d_loop", line 3\): `pad_width` must be of integral type\.\n'
                     r"\s+out = out \+ np\.pad\(x, 'one'\)\n", report), report
    assert re.search(r'UFuncTypeError raised in your function relu_backward \(cell "relu", line 2\)', report), report
    assert re.search(r"FAIL  test_linear \(1 point\)\n\s+CheckFailure: linear_backward: gradient with respect to b "
                     r"does not match a centred-difference estimate \(relative error 6\.00e-01\): the returned values "
                     r"are 1/4 of the estimated ones", report), report
    assert "checks.py" not in report
