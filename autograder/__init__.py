"""Grading tools for the Neural Networks from Scratch course.

Test cells import the checks from here (``from autograder import assert_close``); instructors use the
``autograder`` command (see ``autograder --help``).
"""

from .checks import (CheckFailure, assert_choice, assert_close, assert_finite, assert_returns_array, assert_shape,
                     check_backward, check_gradient, gradient_error, numerical_gradient, rel_error)

__all__ = ["CheckFailure", "assert_choice", "assert_close", "assert_finite", "assert_returns_array", "assert_shape",
           "check_backward", "check_gradient", "gradient_error", "numerical_gradient", "rel_error"]
__version__ = "0.1.0"
