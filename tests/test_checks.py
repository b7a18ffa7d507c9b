"""The checks that test cells use: they pass correct answers and fail wrong ones with useful messages."""

import numpy as np
import pytest

from autograder import (CheckFailure, assert_choice, assert_close, assert_finite, assert_returns_array, assert_shape,
                        check_backward, check_gradient, gradient_error, numerical_gradient, rel_error)


def test_assert_close_accepts_values_within_tolerance():
    assert_close([1.0, 2.0 + 1e-9], np.array([1.0, 2.0]), name="path")
    assert_close(3, 3.0, name="a number")


def test_assert_close_names_the_worst_index_and_both_values():
    with pytest.raises(CheckFailure) as failure:
        assert_close([1.0, 2.5, 3.0], [1.0, 2.0, 3.0], name="path")
    message = str(failure.value)
    assert message.splitlines()[0] == "path: 1 of 3 values are not close to the correct result (entry 1)."
    assert "index (1,)" in message and "Returned at index (1,): 2.5" in message
    assert "Expected at index (1,): 2" in message


def test_hidden_mode_never_mentions_the_expected_value():
    with pytest.raises(CheckFailure) as failure:
        assert_close(0.25, 0.123456, name="threshold", show_expected=False)
    assert "0.123456" not in str(failure.value) and "Expected" not in str(failure.value)
    assert "0.25" in str(failure.value)


@pytest.mark.parametrize("returned, fragment", [
    (None, "is None: the function did not return anything"),
    ("3.0", "should be a number or an array of numbers, not str"),
    ({"x": 1}, "not dict"),
    ([[1.0, 2.0], [3.0]], "should be a number or an array of numbers, not list"),
])
def test_wrong_types_are_explained(returned, fragment):
    with pytest.raises(CheckFailure, match=fragment):
        assert_close(returned, [1.0, 2.0], name="result")


def test_shape_mismatch_gives_both_shapes():
    with pytest.raises(CheckFailure, match=r"has shape \(5,\) but should have shape \(6,\)"):
        assert_close(np.zeros(5), np.zeros(6), name="path")
    with pytest.raises(CheckFailure, match=r"has shape \(2, 3\) but should have shape \(3, 2\)"):
        assert_shape(np.zeros((2, 3)), (3, 2), name="path")
    assert_shape(np.zeros((3, 2)), (3, 2))


def test_non_finite_values_are_reported_before_values():
    with pytest.raises(CheckFailure, match="NaN or infinity"):
        assert_close([1.0, np.inf], [1.0, 2.0], name="losses")
    with pytest.raises(CheckFailure, match="NaN or infinity"):
        assert_finite(float("nan"), name="threshold")


def test_assert_returns_array_rejects_lists():
    with pytest.raises(CheckFailure, match="should be a NumPy array, not list"):
        assert_returns_array([1.0], name="path")
    array = np.ones(2)
    assert assert_returns_array(array) is array


def test_numerical_gradient_matches_an_analytic_gradient_and_leaves_x_alone():
    matrix = np.array([[3.0, 1.0], [1.0, 2.0]])
    point = np.array([0.5, -1.0])
    before = point.copy()
    estimate = numerical_gradient(lambda v: 0.5 * v @ matrix @ v, point)
    assert rel_error(estimate, matrix @ point) < 1e-8
    assert np.array_equal(point, before)


def test_check_gradient_catches_a_transposed_gradient():
    matrix = np.array([[1.0, 2.0], [0.0, 3.0]])  # not symmetric, so the transpose is wrong
    loss = lambda v: v @ matrix @ v
    point = np.array([1.0, -2.0])
    assert check_gradient(loss, (matrix + matrix.T) @ point, point) is None  # never a number: see its docstring
    assert gradient_error(loss, (matrix + matrix.T) @ point, point) < 1e-8
    with pytest.raises(CheckFailure, match="does not match a centred-difference estimate"):
        check_gradient(loss, 2 * matrix @ point, point)


def test_assert_choice_checks_format_then_correctness_without_revealing_it():
    assert_choice(" b ", correct="B", name="q1")
    with pytest.raises(CheckFailure, match="q1 has no answer yet"):
        assert_choice(..., name="q1")
    with pytest.raises(CheckFailure, match="should be one letter among A, B, C, D"):
        assert_choice("AB", name="q1")
    with pytest.raises(CheckFailure, match="should be one letter"):
        assert_choice(2, name="q1")
    with pytest.raises(CheckFailure) as failure:
        assert_choice("c", correct="B", name="q1")
    assert str(failure.value) == "q1: C is not the right choice."


def test_check_backward_accepts_a_correct_layer_and_rejects_a_transposed_one():
    rng = np.random.default_rng(0)
    X, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    forward = lambda X, W, b: (X @ W + b, (X, W))
    right = lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.sum(axis=0))
    check_backward(forward, right, [X, W, b], ["X", "W", "b"], name="linear_backward", tolerance=1e-8)
    wrong = lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.mean(axis=0))
    with pytest.raises(CheckFailure, match="linear_backward: gradient with respect to b does not match"):
        check_backward(forward, wrong, [X, W, b], ["X", "W", "b"], name="linear_backward")
    with pytest.raises(CheckFailure, match="should return 3 gradient"):
        check_backward(forward, lambda dout, cache: dout, [X, W, b], ["X", "W", "b"])
    with pytest.raises(CheckFailure, match="should return \\(out, cache\\)"):
        check_backward(lambda z: z, lambda d, c: d, [X], ["z"])
