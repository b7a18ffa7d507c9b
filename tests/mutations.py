"""The mutation catalogue: plausible wrong implementations that each assignment's tests must catch.

Every mutant edits the instructor's solution in one solution cell and names the test cells that must then
score zero. tests/test_grading.py submits every mutant as a student and grades it with nbgrader.
``visible_passes`` marks mutants that get through every visible test: only the hidden tests catch them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    cell: str  # grade_id of the solution cell that is edited
    edits: tuple  # (text in the solution, replacement) pairs
    fails: tuple  # grade_ids of the test cells that must score zero
    visible_passes: bool = False


CATALOGUE: dict[str, list[Mutant]] = {
    "ps1_gradient_descent": [
        Mutant("forward_difference", "numerical_derivative",
               (("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h"),),
               ("test_numerical_derivative",)),
        Mutant("derivative_ignores_h", "numerical_derivative",
               (("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + 1e-6) - f(x - 1e-6)) / 2e-6"),),
               ("test_numerical_derivative",), visible_passes=True),
        Mutant("derivative_missing_half", "numerical_derivative",
               (("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x - h)) / h"),),
               ("test_numerical_derivative",)),
        Mutant("integer_gradient", "numerical_gradient",
               (("gradient = np.zeros(point.shape)", "gradient = np.zeros_like(np.asarray(x))"),),
               ("test_numerical_gradient",), visible_passes=True),
        Mutant("gradient_one_sided", "numerical_gradient",
               (("(f(point + step) - f(point - step)) / (2 * h)", "(f(point + step) - f(point)) / h"),),
               ("test_numerical_gradient",)),
        Mutant("gradient_moves_all_coordinates", "numerical_gradient",
               (("step[i] = h", "step[:] = h"),), ("test_numerical_gradient",)),
        Mutant("ignores_learning_rate", "gradient_descent_1d",
               (("x = x - learning_rate * derivative(x)", "x = x - derivative(x)"),), ("test_gradient_descent_1d",)),
        Mutant("sign_1d", "gradient_descent_1d",
               (("x = x - learning_rate * derivative(x)", "x = x + learning_rate * derivative(x)"),),
               ("test_gradient_descent_1d",)),
        Mutant("path_1d_without_start", "gradient_descent_1d", (("path = [x]", "path = []"),),
               ("test_gradient_descent_1d",)),
        Mutant("wrong_sign", "gradient_descent",
               (("x = x - learning_rate * gradient(x)", "x = x + learning_rate * gradient(x)"),),
               ("test_gradient_descent",)),
        Mutant("no_start_point", "gradient_descent", (("path = [x.copy()]", "path = []"),),
               ("test_gradient_descent",)),
        Mutant("modifies_x0", "gradient_descent",
               (("x = np.array(x0, dtype=float)", "x = np.asarray(x0, dtype=float)"),
                ("x = x - learning_rate * gradient(x)", "x -= learning_rate * gradient(x)")),
               ("test_gradient_descent", "test_learning_rate_study")),
        Mutant("study_first_point", "learning_rate_study", (("final_losses.append(f(path[-1]))",
                                                              "final_losses.append(f(path[0]))"),),
               ("test_learning_rate_study",)),
        Mutant("study_best_point", "learning_rate_study", (("final_losses.append(f(path[-1]))",
                                                             "final_losses.append(min(f(p) for p in path))"),),
               ("test_learning_rate_study",), visible_passes=True),
        Mutant("study_one_step_short", "learning_rate_study", (("gradient_descent(gradient, x0, learning_rate, num_steps)",
                                                                 "gradient_descent(gradient, x0, learning_rate, num_steps - 1)"),),
               ("test_learning_rate_study",)),
        Mutant("wrong_threshold", "divergence_threshold",
               (("divergence_threshold = 0.5", "divergence_threshold = 1.0"),), ("test_divergence_threshold",),
               visible_passes=True),
    ],
}
