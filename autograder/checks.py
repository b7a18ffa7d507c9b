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
    "assert_choice",
    "assert_finite",
    "assert_returns_array",
    "check_gradient",
    "check_backward",
    "gradient_error",
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


def assert_choice(answer, choices: str = "ABCD", correct: str | None = None, name: str = "answer") -> None:
    """Multiple-choice answers: fail unless ``answer`` is one letter of ``choices`` (any case, spaces ignored).

    correct: the right letter; when given, a wrong choice fails without saying which letter is right
    """
    if answer is None or answer is Ellipsis:
        raise CheckFailure(f"{name} has no answer yet: set it to one of {', '.join(choices)}.")
    if not isinstance(answer, str) or answer.strip().upper() not in choices.upper() or len(answer.strip()) != 1:
        raise CheckFailure(f"{name} should be one letter among {', '.join(choices)} (a string such as \"{choices[0]}\").",
                           f"Returned: {_describe(answer)}")
    if correct is not None and answer.strip().upper() != correct.strip().upper():
        raise CheckFailure(f"{name}: {answer.strip().upper()} is not the right choice.")


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


def gradient_error(f, gradient, x, *, name: str = "gradient", h: float = 1e-5) -> float:
    """Relative error ||gradient - estimate|| / (||gradient|| + ||estimate||) against centred differences at x."""
    expected = numerical_gradient(f, x, h)
    actual = _as_numeric_array(gradient, name)
    if actual.shape != expected.shape:
        raise CheckFailure(f"{name} has shape {actual.shape} but should have shape {expected.shape}.",
                           f"Returned: {_describe(gradient)}")
    assert_finite(actual, name)
    # Norm-wise: tiny entries (probabilities near 0) would make an elementwise ratio noisy.
    scale = np.linalg.norm(actual) + np.linalg.norm(expected)
    return float(np.linalg.norm(actual - expected) / scale) if scale > 1e-12 else 0.0


def check_gradient(f, gradient, x, *, name: str = "gradient", h: float = 1e-5, tolerance: float = 1e-6) -> None:
    """Fail unless an analytic gradient matches centred differences at ``x`` (see :func:`gradient_error`).

    f: scalar function of an array shaped like x
    gradient: the analytic gradient at x, an array shaped like x
    tolerance: the largest relative error accepted

    Returns None on purpose: nbgrader reads a number left as a test cell's last value as a partial score.
    """
    error = gradient_error(f, gradient, x, name=name, h=h)
    if not error <= tolerance:
        raise CheckFailure(
            f"{name} does not match a centred-difference estimate (relative error {error:.2e}).",
            f"A correct gradient agrees to about {tolerance:g}. Check signs, factors and transposes.",
        )


def check_backward(forward, backward, inputs, names, *, name: str = "backward", seed: int = 0,
                   tolerance: float = 1e-6) -> None:
    """Gradient-check a forward/backward pair (fails on the first input whose gradient is wrong).

    forward(*inputs) -> (out, cache); backward(dout, cache) -> the gradient for each input, in order
    (a single array when there is one input). The scalar checked is sum(out * dout) for a random dout,
    so every entry of every gradient is tested.
    inputs: list of float arrays; names: what each input is called in messages, e.g. ["X", "W", "b"]
    """
    inputs = [np.array(array, dtype=float) for array in inputs]
    result = forward(*[array.copy() for array in inputs])
    if not isinstance(result, tuple) or len(result) != 2:
        raise CheckFailure(f"{name}: the forward function should return (out, cache).",
                           f"Returned: {_describe(result)}")
    out, cache = result
    upstream = np.random.default_rng(seed).normal(size=np.shape(out))
    grads = backward(upstream.copy(), cache)
    if len(inputs) == 1 and not isinstance(grads, tuple):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
        raise CheckFailure(f"{name} should return {len(inputs)} gradient(s): {', '.join(names)}.",
                           f"Returned: {_describe(grads)}")
    for index, (array, grad, label) in enumerate(zip(inputs, grads, names)):
        def scalar(value, index=index):
            arguments = [a.copy() for a in inputs]
            arguments[index] = value
            return float(np.sum(np.asarray(forward(*arguments)[0], dtype=float) * upstream))
        check_gradient(scalar, grad, array, name=f"{name}: gradient with respect to {label}", tolerance=tolerance)
