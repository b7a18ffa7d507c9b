"""Checks for test cells: tolerant comparisons with messages a student can act on.

Every failure raises :class:`CheckFailure`. Its message is built in two parts:

* the first line says what was checked and what was wrong in general terms
  ("path has shape (5,) but should have shape (6,)"); it never contains an expected value;
* the following lines give details (what was returned and, unless ``show_expected=False``,
  what was expected).

Feedback for hidden tests keeps only the first line (see :mod:`autograder.feedback`), so a hidden
test can use these checks without revealing its expected values.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "CheckFailure",
    "assert_close",
    "assert_shape",
    "assert_finite",
    "assert_returns_array",
    "check_gradient",
    "numerical_gradient",
    "rel_error",
]


class CheckFailure(AssertionError):
    """A check in a test cell failed; the first line of the message is safe to show for hidden tests."""

    def __init__(self, summary: str, details: str = ""):
        self.summary = summary
        self.details = details
        super().__init__(summary + ("\n" + details if details else ""))


def _describe(value) -> str:
    """A short, readable description of a returned value for messages."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return f"array {np.array2string(value, precision=6)} (shape {value.shape}, dtype {value.dtype})"
        return f"array of shape {value.shape}, dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _as_numeric_array(actual, name: str) -> np.ndarray:
    """Convert what a student returned to a float array, or fail saying what it was."""
    if actual is None:
        raise CheckFailure(
            f"{name} is None: the function did not return anything.",
            "Check that your function ends with a `return` statement.",
        )
    if isinstance(actual, (str, bytes, dict, set)):
        raise CheckFailure(f"{name} should be a number or an array of numbers, not {type(actual).__name__}.",
                           f"Returned: {_describe(actual)}")
    try:
        array = np.asarray(actual, dtype=float)
    except (TypeError, ValueError) as error:
        raise CheckFailure(
            f"{name} should be a number or an array of numbers, not {type(actual).__name__}.",
            f"Returned: {_describe(actual)} ({error})",
        ) from None
    return array


def assert_shape(actual, shape: tuple, name: str = "result") -> None:
    """Fail unless ``np.shape(actual) == shape``."""
    actual_shape = np.shape(actual)
    if tuple(actual_shape) != tuple(shape):
        raise CheckFailure(
            f"{name} has shape {tuple(actual_shape)} but should have shape {tuple(shape)}.",
            f"Returned: {_describe(actual)}",
        )


def assert_finite(actual, name: str = "result") -> None:
    """Fail if ``actual`` contains NaN or infinity."""
    array = _as_numeric_array(actual, name)
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
        raise CheckFailure(
            f"{name} contains NaN or infinity (first at index {where}).",
            "This usually means the values blew up: check signs and step sizes.",
        )


def assert_returns_array(actual, name: str = "result") -> np.ndarray:
    """Fail unless ``actual`` is a NumPy array (not a list or a scalar); return it."""
    if not isinstance(actual, np.ndarray):
        raise CheckFailure(
            f"{name} should be a NumPy array, not {type(actual).__name__}.",
            f"Returned: {_describe(actual)}. Wrap it with np.array(...) before returning.",
        )
    return actual


def assert_close(actual, expected, *, name: str = "result", rtol: float = 1e-6, atol: float = 1e-9,
                 show_expected: bool = True) -> None:
    """Fail unless ``actual`` matches ``expected`` in shape and, within tolerances, in value.

    actual: what the student's code returned (number, list or array)
    expected: the correct value (number or array)
    name: how the value is called in the message, e.g. "numerical_derivative(f, 1.0)"
    rtol, atol: passes where |actual - expected| <= atol + rtol * |expected|, elementwise
    show_expected: False in hidden tests, so the expected value never appears in a message
    """
    expected_array = np.asarray(expected, dtype=float)
    actual_array = _as_numeric_array(actual, name)
    if actual_array.shape != expected_array.shape:
        raise CheckFailure(
            f"{name} has shape {actual_array.shape} but should have shape {expected_array.shape}.",
            f"Returned: {_describe(actual)}",
        )
    assert_finite(actual_array, name)
    difference = np.abs(actual_array - expected_array)
    allowed = atol + rtol * np.abs(expected_array)
    wrong = difference > allowed
    if not wrong.any():
        return
    worst = np.unravel_index(np.argmax(np.where(wrong, difference - allowed, -np.inf)), wrong.shape)
    location = f" at index {tuple(int(i) for i in worst)}" if actual_array.ndim else ""
    count = f"{int(wrong.sum())} of {wrong.size} values are" if actual_array.ndim else "the value is"
    details = [f"Returned{location}: {actual_array[worst]:.8g}"]
    if show_expected:
        details.append(f"Expected{location}: {expected_array[worst]:.8g}")
    details.append(f"(tolerance: rtol={rtol:g}, atol={atol:g})")
    raise CheckFailure(f"{name}: {count} not close to the correct result.", "\n".join(details))


def rel_error(a, b) -> float:
    """Largest elementwise relative error max |a - b| / max(1e-8, |a| + |b|)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(f, x, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of a scalar function.

    f: callable taking an array shaped like x and returning a number
    x: (D,) or any shape, the point; it is not modified
    returns: array shaped like x with (f(x + h e_i) - f(x - h e_i)) / (2h) in entry i
    """
    point = np.array(x, dtype=float)
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + h
        f_plus = float(f(point))
        point[index] = original - h
        f_minus = float(f(point))
        point[index] = original
        gradient[index] = (f_plus - f_minus) / (2 * h)
    return gradient


def check_gradient(f, gradient, x, *, name: str = "gradient", h: float = 1e-5, tolerance: float = 1e-6) -> float:
    """Compare an analytic gradient with centred differences at ``x``; return the relative error.

    f: scalar function of an array shaped like x
    gradient: the analytic gradient at x, an array shaped like x
    tolerance: the largest relative error accepted (see :func:`rel_error`)
    """
    expected = numerical_gradient(f, x, h)
    actual = _as_numeric_array(gradient, name)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{name} has shape {actual.shape} but should have shape {expected.shape}.",
                           f"Returned: {_describe(gradient)}")
    error = rel_error(actual, expected)
    if not error <= tolerance:
        raise CheckFailure(
            f"{name} does not match a centred-difference estimate (relative error {error:.2e}).",
            f"A correct gradient agrees to about {tolerance:g}. Check signs, factors and transposes.",
        )
    return error
