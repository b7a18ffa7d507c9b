"""Checks for test cells: tolerant comparisons with messages a student can act on.

Every failure raises :class:`CheckFailure`. Its message is built in two parts:

* the first line says what was checked and what was wrong in general terms: which entries differ and, when one
  simple mistake explains them (a flipped sign, a transposed array, a constant factor such as 1/N), which one
  ("W: 3 of 6 values are not close to the correct result (column 1, every row): the sign is flipped there.");
  it never states an expected value (and with ``show_expected=False`` names no sign or factor for a single number,
  where either would give the value away);
* the following lines give details (what was returned and, unless ``show_expected=False``, what was expected).

Feedback for hidden tests keeps only the first line (see :mod:`autograder.feedback`), so a hidden
test can use these checks without revealing its expected values.

A failure should point at the test's line and the student's code, not at this module. In IPython (JupyterLab,
``autograder validate``), a :class:`CheckFailure` leaves this module's frames out of its traceback; every
function here also sets ``__tracebackhide__``, which IPython and pytest honour, so that an error raised by the
student's function while a check calls it is shown without the frames of the check in between.
"""

from __future__ import annotations

import sys
import traceback
import types

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

    def _render_traceback_(self) -> list[str]:
        """IPython shows this list instead of its own traceback: the test's frames, then the message."""
        return _traceback_without_checks(self)


def _is_hidden(frame) -> bool:
    """A frame of this module, or of any function that asks to be left out of tracebacks."""
    if frame.f_globals.get("__name__") == __name__:
        return True
    try:
        return bool(frame.f_locals.get("__tracebackhide__", False))
    except Exception:
        return False


def _traceback_without_checks(error: BaseException) -> list[str]:
    """``error``'s traceback formatted as IPython would, without the frames :func:`_is_hidden` names."""
    try:
        kept = []
        entry = error.__traceback__
        while entry is not None:
            if not _is_hidden(entry.tb_frame):
                kept.append(entry)
            entry = entry.tb_next
        shortened = None
        for entry in reversed(kept):
            shortened = types.TracebackType(shortened, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
        ipython = sys.modules.get("IPython")
        shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
        if shell is not None and hasattr(shell, "InteractiveTB"):
            # The shell's own formatter: the same colours, context lines and first frame skipped as usual.
            return list(shell.InteractiveTB.structured_traceback(type(error), error, shortened))
        return [line.rstrip("\n") for line in traceback.format_exception(type(error), error, shortened)]
    except Exception:
        # IPython shows nothing at all when this hook fails, and a test that fails silently looks like a pass.
        return [f"{type(error).__name__}: {error}"]


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


def _shape_message(name: str, actual_shape: tuple, expected_shape: tuple) -> str:
    """The first line for a wrong shape, noting a transposed one."""
    actual_shape, expected_shape = tuple(actual_shape), tuple(expected_shape)
    transposed = len(actual_shape) >= 2 and actual_shape[-2:] == expected_shape[-2:][::-1] \
        and actual_shape[:-2] == expected_shape[:-2]
    hint = " (the transposed shape: is a matrix transposed, or are two axes swapped?)" if transposed else ""
    return f"{name} has shape {actual_shape} but should have shape {expected_shape}{hint}."


def _as_numeric_array(actual, name: str) -> np.ndarray:
    """Convert what a student returned to a float array, or fail saying what it was."""
    __tracebackhide__ = True
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


# What the first line of a failure says about the differing entries ------------------------------------------

def _runs(indices) -> str:
    """Sorted indices as runs: [0, 1, 2, 5] -> "0-2, 5" (at most four runs, then "...")."""
    runs: list[list[int]] = []
    for index in sorted({int(i) for i in indices}):
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    pieces = [str(first) if first == last else f"{first}-{last}" for first, last in runs]
    return ", ".join(pieces[:4] + (["..."] if len(pieces) > 4 else []))


def _where(wrong: np.ndarray) -> str:
    """Which entries differ, in a few words ("column 1, every row", "entries 0-2, 5"); "" for all or a number."""
    if wrong.ndim == 0 or wrong.all() or not wrong.any():
        return ""
    if wrong.ndim == 1:
        indices = np.flatnonzero(wrong)
        return f"{'entry' if len(indices) == 1 else 'entries'} {_runs(indices)}"
    per_axis = [np.flatnonzero(wrong.any(axis=tuple(other for other in range(wrong.ndim) if other != axis)))
                for axis in range(wrong.ndim)]
    block = np.zeros_like(wrong)
    block[np.ix_(*per_axis)] = True
    if np.array_equal(block, wrong):  # every combination of some rows and some columns (or slices)
        if wrong.ndim == 2:
            rows, columns = per_axis
            row_text = f"{'row' if len(rows) == 1 else 'rows'} {_runs(rows)}"
            column_text = f"{'column' if len(columns) == 1 else 'columns'} {_runs(columns)}"
            if len(rows) == wrong.shape[0]:
                return f"{column_text}, every row"
            if len(columns) == wrong.shape[1]:
                return f"{row_text}, every column"
            return f"{row_text}, {column_text}"
        parts = []
        for axis, chosen in enumerate(per_axis):
            if len(chosen) == wrong.shape[axis]:
                parts.append(":")
            elif len(chosen) == 1:
                parts.append(str(chosen[0]))
            elif chosen[-1] - chosen[0] + 1 == len(chosen):
                parts.append(f"{chosen[0]}:{chosen[-1] + 1}")
            else:
                break
        else:
            return f"entries [{', '.join(parts)}]"
    positions = np.argwhere(wrong)
    shown = ", ".join(str(tuple(int(i) for i in position)) for position in positions[:3])
    more = f" and {len(positions) - 3} more" if len(positions) > 3 else ""
    return f"{'entry' if len(positions) == 1 else 'entries'} {shown}{more}"


def _nice_factor(factor: float) -> str | None:
    """"4", "1/4", "-2" when ``factor`` is (minus) a whole number or its inverse; else None."""
    size = abs(factor)
    if size < 1e-12:
        return None
    sign = "-" if factor < 0 else ""
    whole = round(size)
    if whole >= 2 and abs(size - whole) <= 1e-5 * whole:
        return f"{sign}{whole}"
    inverse = round(1 / size)
    if inverse >= 2 and abs(1 / size - inverse) <= 1e-5 * inverse:
        return f"{sign}1/{inverse}"
    return None


def _how(actual: np.ndarray, expected: np.ndarray, wrong: np.ndarray, close, reference: str) -> tuple[str, bool]:
    """The one simple mistake that explains the differing entries, in words ("" when there is none), and whether
    it explains the whole array (then where the entries differ says nothing more).

    close(x, y): whether x matches y as the check's tolerances see it (a little looser)
    reference: what the right values are called: "correct" or "estimated"
    """
    if actual.ndim >= 2 and actual.shape[-1] == actual.shape[-2] and actual.shape[-1] > 1:
        swapped = np.swapaxes(expected, -1, -2)
        if not close(swapped, expected) and close(actual, swapped):
            if actual.ndim > 2:
                return "the returned array has its last two axes swapped", True
            return f"the returned array is the transpose of the {reference} one", True
    # The same mistake over the whole array first (-0 and 0 do not differ), else only where the entries differ.
    text = _scaling(actual.ravel(), expected.ravel(), close, reference, "", single=actual.size == 1)
    if text:
        return text, True
    return _scaling(actual[wrong], expected[wrong], close, reference, " there", single=actual.size == 1), False


def _scaling(got: np.ndarray, right: np.ndarray, close, reference: str, there: str, single: bool) -> str:
    """got = 0, got = -right or got = c * right for one constant c, in words; "" otherwise."""
    if not np.any(right):
        return ""
    values, ones = ("the returned value", "one") if single else ("the returned values", "ones")
    verb = "is" if single else "are"
    if not np.any(got):
        return f"{values}{there} {verb} 0"
    if close(got, -right):
        return f"the sign is flipped{there}"
    factor = float(np.dot(got, right) / np.dot(right, right))
    if not close(got, factor * right) or close(np.array([factor]), np.array([1.0])):
        return ""
    nice = _nice_factor(factor)
    # Any number is some factor times another, and so is an array whose non-zero entries are all equal (a step
    # edge, say) when each of them is off the same way: only a whole ratio between single numbers says something.
    # A factor near 1 is a small difference, not a constant's mistake.
    levels = right[right != 0]
    if got.size > 1 and np.ptp(levels) <= 1e-12 * np.max(np.abs(levels)):
        return ""
    if nice is None and (got.size < 2 or abs(abs(factor) - 1) < 0.05):
        return ""
    text = nice or f"{factor:.3g}"
    if text.lstrip("-").startswith("1/"):
        described = f"{values}{there} {verb} {text} of the {reference} {ones}"
    else:
        described = f"{values}{there} {verb} {text} times the {reference} {ones}"
    if nice is not None and factor > 0:
        count = nice.split("/")[-1]
        if "/" in nice:
            described += f" (an extra division by {count}, or a missing factor {count}?)"
        else:
            described += f" (a missing division by {count}, such as the average over {count} examples?)"
    return described


def _compare(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
             show_expected: bool) -> tuple[str, str] | None:
    """None when ``actual`` is within tolerances of ``expected`` (same shape); else (what differs, details)."""
    difference = np.abs(actual - expected)
    allowed = atol + rtol * np.abs(expected)
    wrong = difference > allowed
    if not wrong.any():
        return None
    worst = np.unravel_index(np.argmax(np.where(wrong, difference - allowed, -np.inf)), wrong.shape)
    location = f" at index {tuple(int(i) for i in worst)}" if actual.ndim else ""
    count = f"{int(wrong.sum())} of {wrong.size} values are" if actual.ndim else "the value is"
    summary = f"{count} not close to the correct result"
    how, everywhere = "", False
    # With one number, a sign or a factor would give the hidden value away.
    if show_expected or actual.size > 1:
        loose_rtol, loose_atol = min(10 * rtol, 1e-2), 10 * atol

        def close(x, y):
            return bool(np.all(np.abs(x - y) <= loose_atol + loose_rtol * np.abs(y)))

        how, everywhere = _how(actual, expected, wrong, close, "correct")
    where = "" if everywhere else _where(wrong)
    summary += (f" ({where})" if where else "") + (f": {how}" if how else "")
    details = [f"Returned{location}: {actual[worst]:.8g}"]
    if show_expected:
        details.append(f"Expected{location}: {expected[worst]:.8g}")
    details.append(f"(tolerance: rtol={rtol:g}, atol={atol:g})")
    return summary, "\n".join(details)


# The checks ----------------------------------------------------------------------------------------------------

def assert_shape(actual, shape: tuple, name: str = "result") -> None:
    """Fail unless ``np.shape(actual) == shape``."""
    __tracebackhide__ = True
    actual_shape = np.shape(actual)
    if tuple(actual_shape) != tuple(shape):
        raise CheckFailure(_shape_message(name, actual_shape, shape), f"Returned: {_describe(actual)}")


def assert_finite(actual, name: str = "result") -> None:
    """Fail if ``actual`` contains NaN or infinity."""
    __tracebackhide__ = True
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
    __tracebackhide__ = True
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
    show_expected: False in hidden tests, so the expected value never appears in a message (the first line may
        still say which entries differ and whether their sign is flipped, the array transposed or scaled by a
        constant factor; for a single number it says none of that)
    """
    __tracebackhide__ = True
    expected_array = np.asarray(expected, dtype=float)
    actual_array = _as_numeric_array(actual, name)
    if actual_array.shape != expected_array.shape:
        raise CheckFailure(_shape_message(name, actual_array.shape, expected_array.shape),
                           f"Returned: {_describe(actual)}")
    assert_finite(actual_array, name)
    failure = _compare(actual_array, expected_array, rtol, atol, show_expected)
    if failure is not None:
        raise CheckFailure(f"{name}: {failure[0]}.", failure[1])


def assert_choice(answer, choices: str = "ABCD", correct: str | None = None, name: str = "answer") -> None:
    """Multiple-choice answers: fail unless ``answer`` is one letter of ``choices`` (any case, spaces ignored).

    correct: the right letter; when given, a wrong choice fails without saying which letter is right
    """
    __tracebackhide__ = True
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
    __tracebackhide__ = True
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


def _gradient_and_estimate(f, gradient, x, name: str, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The analytic gradient as a float array and the centred-difference estimate at x (same shape, or fail)."""
    __tracebackhide__ = True
    expected = numerical_gradient(f, x, h)
    actual = _as_numeric_array(gradient, name)
    if actual.shape != expected.shape:
        raise CheckFailure(_shape_message(name, actual.shape, expected.shape), f"Returned: {_describe(gradient)}")
    assert_finite(actual, name)
    return actual, expected


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    # Norm-wise: tiny entries (probabilities near 0) would make an elementwise ratio noisy.
    scale = np.linalg.norm(actual) + np.linalg.norm(expected)
    return float(np.linalg.norm(actual - expected) / scale) if scale > 1e-12 else 0.0


def gradient_error(f, gradient, x, *, name: str = "gradient", h: float = 1e-5) -> float:
    """Relative error ||gradient - estimate|| / (||gradient|| + ||estimate||) against centred differences at x."""
    __tracebackhide__ = True
    return _relative_error(*_gradient_and_estimate(f, gradient, x, name, h))


def _check_value(value, expected_value, name: str, value_name: str, show_expected: bool, consequence: str) -> None:
    """Fail, before any gradient is compared, when the function's own value is not the correct one."""
    __tracebackhide__ = True
    expected_array = np.asarray(expected_value, dtype=float)
    array = _as_numeric_array(value, f"{name}: {value_name}")
    if array.shape != expected_array.shape:
        raise CheckFailure(_shape_message(f"{name}: {value_name}", array.shape, expected_array.shape),
                           f"Returned: {_describe(value)}")
    assert_finite(array, f"{name}: {value_name}")
    failure = _compare(array, expected_array, 1e-6, 1e-9, show_expected)
    if failure is not None:
        what = "" if array.ndim == 0 else f": {failure[0]}"
        raise CheckFailure(f"{name}: {value_name} differs from the correct one{what}.", f"{failure[1]}\n{consequence}")


def check_gradient(f, gradient, x, *, name: str = "gradient", h: float = 1e-5, tolerance: float = 1e-6,
                   expected_value=None, value_name: str = "the loss value", show_expected: bool = True) -> None:
    """Fail unless an analytic gradient matches centred differences at ``x`` (see :func:`gradient_error`).

    f: scalar function of an array shaped like x (the student's loss, typically)
    gradient: the analytic gradient at x, an array shaped like x
    tolerance: the largest relative error accepted
    expected_value: the correct f(x), when the test knows it. It is checked first: a loss that is slightly off
        (1e-7 added inside a log) has centred differences that no correct gradient matches, and the message
        should then say that the loss value differs, not that the gradient does
    value_name: what f(x) is called in that message
    show_expected: False in hidden tests, so that expected_value never appears in a message

    Returns None on purpose: nbgrader reads a number left as a test cell's last value as a partial score.
    """
    __tracebackhide__ = True
    if expected_value is not None:
        _check_value(f(np.array(x, dtype=float)), expected_value, name, value_name, show_expected,
                     "Fix it first: the gradient was not checked, since it is compared with centred differences "
                     "of this function.")
    actual, expected = _gradient_and_estimate(f, gradient, x, name, h)
    error = _relative_error(actual, expected)
    if error <= tolerance:
        return
    difference = np.abs(actual - expected)
    typical = (np.linalg.norm(actual) + np.linalg.norm(expected)) / np.sqrt(max(actual.size, 1))
    wrong = difference > tolerance * (np.abs(actual) + np.abs(expected) + typical)
    if not wrong.any():
        wrong = difference >= 0.5 * difference.max()
    loose = min(10 * tolerance, 1e-2)

    def close(a, b):
        return bool(np.linalg.norm(a - b) <= loose * (np.linalg.norm(a) + np.linalg.norm(b)))

    how, everywhere = _how(actual, expected, wrong, close, "estimated")
    where = "" if everywhere else _where(wrong)
    summary = f"{name} does not match a centred-difference estimate (relative error {error:.2e})"
    summary += (f" in {where}" if where else "") + (f": {how}" if how else "")
    if not how and error < 1e-3:  # a wrong formula is rarely this close; a slightly wrong function often is
        summary += (f"; the difference is small, as when {value_name} itself is slightly off "
                    "(e.g. a small constant such as 1e-7 added inside a log), not the gradient formula")
    worst = np.unravel_index(np.argmax(difference), difference.shape)
    location = f" at index {tuple(int(i) for i in worst)}" if actual.ndim else ""
    raise CheckFailure(summary + ".", "\n".join([
        f"Returned{location}: {actual[worst]:.8g}",
        f"Centred differences{location}: {expected[worst]:.8g}",
        f"A correct gradient agrees to about {tolerance:g}. Check signs, factors and transposes.",
    ]))


def check_backward(forward, backward, inputs, names, *, name: str = "backward", seed: int = 0,
                   tolerance: float = 1e-6, expected_out=None, show_expected: bool = True) -> None:
    """Gradient-check a forward/backward pair (fails on the first input whose gradient is wrong).

    forward(*inputs) -> (out, cache); backward(dout, cache) -> the gradient for each input, in order
    (a single array when there is one input). The scalar checked is sum(out * dout) for a random dout,
    so every entry of every gradient is tested.
    inputs: list of float arrays; names: what each input is called in messages, e.g. ["X", "W", "b"]
    expected_out: the correct forward output, when the test knows it; checked before any gradient, since the
        gradients are compared with centred differences of the student's forward pass
    show_expected: False in hidden tests, so that expected_out never appears in a message
    """
    __tracebackhide__ = True
    inputs = [np.array(array, dtype=float) for array in inputs]
    result = forward(*[array.copy() for array in inputs])
    if not isinstance(result, tuple) or len(result) != 2:
        raise CheckFailure(f"{name}: the forward function should return (out, cache).",
                           f"Returned: {_describe(result)}")
    out, cache = result
    if expected_out is not None:
        _check_value(out, expected_out, name, "the forward output", show_expected,
                     "Fix it first: the gradients were not checked, since they are compared with centred "
                     "differences of the forward pass.")
    upstream = np.random.default_rng(seed).normal(size=np.shape(out))
    grads = backward(upstream.copy(), cache)
    if len(inputs) == 1 and not isinstance(grads, tuple):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
        raise CheckFailure(f"{name} should return {len(inputs)} gradient(s): {', '.join(names)}.",
                           f"Returned: {_describe(grads)}")
    for index, (array, grad, label) in enumerate(zip(inputs, grads, names)):
        def scalar(value, index=index):
            __tracebackhide__ = True
            arguments = [a.copy() for a in inputs]
            arguments[index] = value
            return float(np.sum(np.asarray(forward(*arguments)[0], dtype=float) * upstream))
        check_gradient(scalar, grad, array, name=f"{name}: gradient with respect to {label}", tolerance=tolerance,
                       value_name="the forward output")
