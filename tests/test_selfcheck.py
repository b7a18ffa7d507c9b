"""The lessons' self-checks: the cell under a question does not show its answer, answers are read the way students
type them, a wrong answer gets a hint and a second one the explanation, and the answer key agrees with what each
lesson computes.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from autograder import selfcheck
from autograder.selfcheck import Question, SelfCheck, kind_of, parse_number, read_answer, same_answer, show
from autograder.selfcheck_answers import QUESTIONS

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r'check\(\s*"(?P<id>\d\d\.q\d+)"\s*,\s*(?P<variable>answer_\d+)\s*\)')
CHECK_IMPORT = "from autograder.selfcheck import check, reveal"
ANSWER_CELL = re.compile(r"(?P<variable>answer_\d+) = \.\.\.")

QUIZ = {
    "t.letter": Question("B", why="Because of B.", hints={"A": "A is the tempting one."}, see="section 1"),
    "t.number": Question(0.25, why="A quarter.", hints={0.5: "That is sigma(0)."}),
    "t.exact": Question(38_597_376, why="768 x 50257.", tolerance=0),
    "t.bool": Question(False, why="Only the offset matters.", hints={True: "Look at the plot."}),
    "t.word": Question("local", why="It rolls right.", hints={"global": "That is the source's claim."}),
}


@pytest.fixture
def quiz() -> SelfCheck:
    return SelfCheck(QUIZ)


# --- answers as students type them ---------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["B", "b", " b ", "B)", "(b)", "b.", "'B'", "B) Rectified Linear Unit", "B:"])
def test_a_letter_is_read_however_it_is_typed(quiz, typed):
    verdict = quiz.judge("t.letter", typed)
    assert verdict.status == "right", verdict.message
    assert verdict.message.startswith("Right. Because of B.")


@pytest.mark.parametrize("typed", ["Rectified Linear Unit", "", 2, True, ["B"]])
def test_what_is_not_a_letter_is_explained_and_is_not_a_try(quiz, typed):
    verdict = quiz.judge("t.letter", typed)
    assert verdict.status == "unreadable" and "letter" in verdict.message and "did not count" in verdict.message
    assert quiz.wrong == {}


@pytest.mark.parametrize("typed, value", [("True", True), ("true", True), (" yes ", True), ("'True'", True),
                                          ("False", False), ("false", False), ("no", False), ("F", False)])
def test_true_and_false_typed_as_text_are_understood_with_a_word_on_quotes(typed, value):
    reading = read_answer(typed, "bool")
    assert reading.value is value
    assert "without quotes" in reading.note and repr(typed) in reading.note


def test_text_booleans_are_judged_and_the_reply_says_how_to_write_them(quiz):
    right = quiz.judge("t.bool", "False")
    assert right.status == "right" and "written without quotes: False, not 'False'" in right.message
    wrong = quiz.judge("t.bool", "true")
    assert wrong.status == "wrong" and "Look at the plot." in wrong.message and "without quotes" in wrong.message
    assert quiz.judge("t.bool", np.bool_(False)).status == "right"
    for typed in ("maybe", 0, 1, 0.0):
        verdict = quiz.judge("t.bool", typed)
        assert verdict.status == "unreadable" and "True or False" in verdict.message, typed


@pytest.mark.parametrize("typed, value", [("0.25", 0.25), (" 1/4 ", 0.25), ("25%", 0.25), ("500,000", 500_000),
                                          ("$500 000", 500_000), ("500_000", 500_000), ("1e23", 1e23),
                                          ("1.56 x 10^23", 1.56e23), ("-0.3", -0.3), ("'13'", 13)])
def test_numbers_typed_as_text_are_understood(typed, value):
    assert parse_number(typed) == pytest.approx(value)
    reading = read_answer(typed, "number")
    assert reading.value == pytest.approx(value) and "without quotes" in reading.note


@pytest.mark.parametrize("typed", ["abc", "B", "1,5", "1/0", "nan", ""])
def test_text_that_is_no_number_is_not_guessed(typed):
    assert parse_number(typed) is None
    assert "wants a number" in read_answer(typed, "number").problem


def test_numbers_from_numpy_are_plain_numbers_and_an_array_is_refused(quiz):
    for typed in (np.float64(0.25), np.array(0.25), np.array([0.25]), np.float32(0.25), 0.2501):
        assert quiz.judge("t.number", typed).status == "right", typed
    assert quiz.judge("t.exact", np.int64(38_597_376)).status == "right"
    assert quiz.judge("t.exact", 38_597_377).status == "wrong"  # tolerance 0: the exact value only
    verdict = quiz.judge("t.number", np.array([0.25, 0.5]))
    assert verdict.status == "unreadable" and "one number" in verdict.message
    assert quiz.judge("t.number", True).status == "unreadable"


def test_a_word_is_compared_without_case_quotes_or_a_full_stop(quiz):
    for typed in ("local", "Local", " LOCAL ", "'local'", "local."):
        assert quiz.judge("t.word", typed).status == "right", typed
    assert "the source's claim" in quiz.judge("t.word", "Global").message
    assert quiz.judge("t.word", "the local one").status == "unreadable"


def test_no_answer_yet(quiz):
    for typed in (..., None):
        verdict = quiz.judge("t.letter", typed)
        assert verdict.status == "no answer" and "replace the ..." in verdict.message


# --- hints, the second try and reveal -------------------------------------------------------------------------------

def test_a_first_wrong_answer_gets_its_hint_but_not_the_answer(quiz):
    verdict = quiz.judge("t.letter", "A")
    assert verdict.status == "wrong" and not verdict.revealed
    assert "A is the tempting one." in verdict.message and 'reveal("t.letter")' in verdict.message
    assert "Because of B." not in verdict.message and "The answer is" not in verdict.message


def test_a_wrong_answer_without_a_hint_names_the_section_to_reread(quiz):
    verdict = quiz.judge("t.letter", "C")
    assert "Re-read section 1" in verdict.message and not verdict.revealed


def test_a_second_different_wrong_answer_reveals_the_answer_and_why(quiz):
    assert not quiz.judge("t.letter", "A").revealed
    assert not quiz.judge("t.letter", "a)").revealed  # the same answer again is not a second try
    second = quiz.judge("t.letter", "D")
    assert second.revealed and second.status == "wrong"
    assert 'The answer is "B". Because of B.' in second.message
    assert quiz.judge("t.letter", "B").status == "right"


def test_tries_are_counted_per_question(quiz):
    quiz.judge("t.number", 0.5)
    assert not quiz.judge("t.letter", "A").revealed
    assert quiz.judge("t.number", 0.75).revealed
    assert "The answer is 0.25. A quarter." in quiz.judge("t.number", "0.1").message


def test_reveal_and_check_print_for_the_course_questions(capsys, monkeypatch):
    monkeypatch.setattr(selfcheck, "_course", None)  # a fresh kernel: no wrong answers yet
    question = QUESTIONS["03.q2"]
    selfcheck.reveal("03.q2")
    assert capsys.readouterr().out == f'Question 03.q2: the answer is "local". {question.why}\n'
    selfcheck.check("03.q2", "Global")
    first = capsys.readouterr().out
    assert first.startswith('Not quite: "global" is not the answer.') and question.why not in first
    selfcheck.check("03.q2", "Local")
    assert capsys.readouterr().out == f"Right. {question.why}\n"
    with pytest.raises(KeyError, match="no self-check question '03.q9'"):
        selfcheck.check("03.q9", 1)


# --- the answer key -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question_id", sorted(QUESTIONS))
def test_each_question_of_the_key_is_well_formed(question_id):
    question = QUESTIONS[question_id]
    assert re.fullmatch(r"\d\d\.q\d+", question_id)
    assert question.why.strip() and question.see.strip() and question.tolerance >= 0
    if question.kind == "letter":
        assert question.answer in "ABCD"
    for wrong in question.hints:
        assert kind_of(wrong) == question.kind, f"{question_id}: the hint for {wrong!r} is for another kind of answer"
        assert not same_answer(wrong if question.kind != "number" else float(wrong), question.answer,
                               question.tolerance), f"{question_id}: the hint for {wrong!r} is for the right answer"


# --- the lessons' check cells ---------------------------------------------------------------------------------------

def check_cells(path: Path) -> list[tuple[int, str, str, str]]:
    """(cell index, question id, answer variable, source) of every cell of a lesson that calls check()."""
    found = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code" and "check(" in cell.source:
            for match in CHECK_CALL.finditer(cell.source):
                found.append((index, match["id"], match["variable"], cell.source))
    return found


def literal_forms(answer) -> list[re.Pattern]:
    """Ways the literal ``answer`` could be written in code: "B" or 'B' for a letter, 0.25 or 1/4 for a number..."""
    if isinstance(answer, bool):
        return [re.compile(rf"\b{answer}\b")]
    if isinstance(answer, str):
        return [re.compile(rf"""["']\s*{re.escape(answer)}\s*[)."']""", re.IGNORECASE)]
    value = float(answer)
    texts = {repr(value), f"{value:g}", f"{value:.3g}", f"{value:.4g}", f"{value:.3f}", f"{value:.2f}"}
    if value.is_integer():
        texts |= {str(int(value)), f"{int(value):,}", f"{int(value):_}"}
    fraction = Fraction(value).limit_denominator(100)
    if abs(float(fraction) - value) < 1e-12 and fraction.denominator > 1:
        texts.add(f"{fraction.numerator}/{fraction.denominator}")
    return [re.compile(rf"(?<![\w.]){re.escape(text)}(?!\w|\.\d)") for text in texts]


def stated_answers(source: str, question: Question, question_id: str) -> list[str]:
    """The literal forms of ``question``'s answer that ``source`` (a check cell) holds, its own id aside."""
    source = source.replace(f'"{question_id}"', '""')
    return [pattern.pattern for pattern in literal_forms(question.answer) if pattern.search(source)]


def test_every_question_of_the_key_is_asked_once_in_its_lesson():
    asked = [(path.name, question_id, variable)
             for path in LESSONS for _, question_id, variable, _ in check_cells(path)]
    ids = [question_id for _, question_id, _ in asked]
    assert sorted(ids) == sorted(QUESTIONS), "check() calls and selfcheck_answers.QUESTIONS differ"
    for lesson, question_id, variable in asked:
        assert lesson[:2] == question_id[:2], f"{lesson} checks another lesson's question {question_id}"
        assert variable == f"answer_{question_id.split('.q')[1]}", f"{lesson}: {question_id} checks {variable}"


def test_each_check_follows_its_answer_cell():
    for path in LESSONS:
        cells = nbformat.read(path, as_version=4).cells
        for index, question_id, variable, _ in check_cells(path):
            answer_cell = ANSWER_CELL.fullmatch(cells[index - 1].source.strip())
            assert answer_cell and answer_cell["variable"] == variable, f"{path.name}: {question_id}"


def test_check_cells_only_name_their_question():
    """A check cell is the import and the call: no answer, explanation, hint or computation of either."""
    for path in LESSONS:
        for _, question_id, _, source in check_cells(path):
            lines = [line.strip() for line in source.splitlines() if line.strip()]
            assert all(line == CHECK_IMPORT or CHECK_CALL.fullmatch(line) for line in lines), \
                f"{path.name}, {question_id}: a check cell holds more than the check:\n{source}"


def test_no_check_cell_states_its_answer():
    for path in LESSONS:
        for _, question_id, _, source in check_cells(path):
            stated = stated_answers(source, QUESTIONS[question_id], question_id)
            assert not stated, f"{path.name}: the check cell of {question_id} states its answer ({stated})"


@pytest.mark.parametrize("answer, cell", [
    ("B", '_ = self_check(answer_1, "B",\n               why="...")'),
    ("C", "correct_6 = 'c'"),
    (False, "correct_6 = False"),
    ("local", 'correct_2 = "global" if x else "local"'),
    (0.25, "correct_3 = 0.25"),
    (0.25, "correct_3 = 1/4"),
    (500_000, 'why="... 200 * 2500 = 500,000."'),
    (45, "_ = self_check(answer_4, 45)"),
    (2.772588722239781, 'why="... = 2.773"'),
])
def test_the_answer_scan_finds_an_answer_written_out(answer, cell):
    """The scan of the check cells can fail: it finds answers the way the lessons used to write them."""
    assert stated_answers(cell, Question(answer, why="."), "05.q3")


def test_the_answer_scan_leaves_a_check_call_alone():
    for question_id, question in QUESTIONS.items():
        cell = f'{CHECK_IMPORT}\n\ncheck("{question_id}", answer_{question_id.split(".q")[1]})'
        assert not stated_answers(cell, question, question_id), question_id


# --- the key against the lessons' own computations ------------------------------------------------------------------

# What each lesson computes for its questions, evaluated in the lesson's namespace after it ran: the answer first,
# then any wrong answers a hint is kept for. Statements may come before the last line, which is the value.
DERIVED = {
    "01.q3": ["1000 * prediction_gd_thousands"],
    "01.q5": ["info_nce(np.ones((16, 4)), np.ones((16, 4)), temperature=0.1)[0]"],
    "02.q3": ["sigmoid_derivative(np.array(0.0))"],
    "02.q4": ["softmax(np.array([102.0, 101.0, 100.1]))[0]"],
    "02.q5": ["W_merged.size + b_merged.size", "W_merged.size"],
    "03.q1": ['options = {"A": 0.05, "B": 0.5, "C": 0.9, "D": 1.2}\n'
              "[letter for letter, eta in options.items() if abs(1 - 2 * eta) > 1]"],
    "03.q2": ['"global" if np.isclose(valley_paths[0.5][-1], global_minimum) else "local"'],
    "03.q3": ["bowl_gradient_analytic(np.array([3.0, 2.0]))[1]", "bowl_gradient_analytic(np.array([3.0, 2.0]))[0]"],
    "03.q4": ["2 / max(curvature_x1, curvature_x2)", "2 / min(curvature_x1, curvature_x2)"],
    "04.q2": ["nested_gradient(0.0, 1.0)[1]",
              "u, v, _ = nested_forward(0.0, 1.0)\n3 * v ** 2 * 2 * u",
              "u, v, _ = nested_forward(0.0, 1.0)\n3 * v ** 2 * 6 * 1.0",
              "nested_gradient(0.0, 1.0)[0]"],
    "04.q3": ["per_example_gradients[1, 0]", "per_example_gradients[0, 0]", "per_example_gradients[1, 2]"],
    "04.q4": ["float(relu_backward(np.array(2.5), np.array(-0.3)))"],
    "05.q1": ["softmax_cross_entropy(np.log([[0.7, 0.2, 0.1]]), np.array([0]))[1][0, 0]"],
    "05.q2": ["binary_cross_entropy(np.array([0.1]), np.array([0.0]))[0]",
              "binary_cross_entropy(np.array([0.1]), np.array([1.0]))[0]"],
    "05.q3": ['len(range(0, len(X_train), digits_recipe["batch_size"]))',
              'len(X_train) // digits_recipe["batch_size"]', "len(X_train)"],
    "05.q6": ["np.max(sigmoid(z_grid) * (1 - sigmoid(z_grid)))"],
    "05.q7": ['deep, wide = shape_accuracy["deep and narrow"], shape_accuracy["wide and shallow"]\n'
              "gap = deep[:, -1] - wide[:, -1]\n"
              "spread = min(np.ptp(deep[:, -1]), np.ptp(wide[:, -1]))\n"
              '"A" if gap.min() > spread else "C" if deep[:, 0].mean() < wide[:, 0].mean() and (gap >= 0).all() '
              'and gap.mean() < spread else "no letter fits"'],
    "06.q2": ["(1 - beta1) / np.sqrt(1 - beta2)"],
    "06.q4": ["int(np.ceil(len(X_train) / 32))", "len(X_train) // 32", "len(X_train)"],
    "06.q5": ['statements = {\n'
              '    "A": all(best_steps[surface, "Adam"] <= min(best_steps[surface, name] for name in optimizers)\n'
              '             for surface in surfaces),\n'
              '    "B": all((grid_steps[surface, "momentum"] >= 0).all() for surface in surfaces),\n'
              '    "C": best_steps["bowl", "gradient descent"] < min(best_steps["bowl", "momentum"],\n'
              '                                                      best_steps["bowl", "Adam"]),\n'
              '}\n'
              "[letter for letter, true in statements.items() if true]"],  # D is false by the lesson's argument
    "07.q1": ["output_size(28, 5, padding=1, stride=2)"],
    "07.q2": ["8 * 3 * 3 + 8", "8 * output_size(28, 3) ** 2"],
    "07.q3": ["784 * 8 * output_size(28, 3) ** 2 + 8 * output_size(28, 3) ** 2",
              "784 * 8 * output_size(28, 3) ** 2"],
    "07.q5": ["step_image = np.zeros((10, 10))\nstep_image[5:, :] = 1.0\n"
              'options = {"A": vertical_edge, "B": -horizontal_edge, "C": line_filter, "D": horizontal_edge}\n'
              "responses = {letter: correlate2d(step_image, option) for letter, option in options.items()}\n"
              "[letter for letter, response in responses.items() if response.max() > 0 and response.min() == 0]"],
    "07.q6": ["tie_free_map = np.random.default_rng(3).permutation(36).reshape(1, 1, 6, 6).astype(float)\n"
              "_, cache = max_pool_forward(tie_free_map)\n"
              "np.count_nonzero(max_pool_backward(np.ones((1, 1, 3, 3)), cache))"],
    "08.q3": ["int((~causal_mask(10)).sum())", "int(causal_mask(10).sum())"],
    "08.q5": ['options = {"A": 0.5, "B": 1.0, "C": 1.5}\n'
              "entropies = {letter: entropy(softmax(val_logits / t)).mean() for letter, t in options.items()}\n"
              "min(entropies, key=entropies.get)"],
    "08.q6": ["not np.allclose(dot_products, dot_products[0])"],
    "08.q7": ['options = {"A": "LSTM, b_f = -3", "B": "LSTM, b_f = +0", "C": "LSTM, b_f = +3"}\n'
              "ratios = {letter: input_gradient_norms[name][0] / input_gradient_norms[name][-1]\n"
              "          for letter, name in options.items()}\n"
              '"".join(letter for letter, ratio in ratios.items() if 0.1 < ratio < 10) or "D"'],
    "09.q1": ["training_flops(13e9, 2e12)"],
    "09.q2": ["compute_optimal(1e23)[0]", "compute_optimal(1e23)[1]"],
    "09.q3": ["15e12 / 8e9 / TOKENS_PER_PARAMETER", "15e12 / 8e9"],
    "09.q4": ["untied - gpt2_total", "untied", "untied - gpt2_total + 50257"],
    "11.q1": ["parameter_formula(1024, 128, 128, 4)", "parameter_formula(1024, 128, 128, 4) + 1024 * 128"],
    "11.q2": ["upstream, inputs, scale = np.random.default_rng(0).normal(size=(3, 3, 8))\n"
              "_, ln_cache = layer_norm_forward(inputs, scale[0], np.zeros(8))\n"
              "bool(np.allclose(layer_norm_backward(upstream, ln_cache)[0].sum(axis=-1), 0))"],
    "11.q3": ["float(gelu_backward(np.array(1.0), gelu_forward(np.array(0.0))[1]))",
              "float(gelu_forward(np.array(0.0))[0])"],
    "11.q4": ["bits_per_byte(3.0, 2.5)", "bits_per_byte(3.0, 1.0)", "3.0 / 2.5"],
    "11.q5": ['"B" if 0 < measured - 6 * num_params < attention_flops_per_token(n_ctx, d, L) else "none"'],
    "11.q6": ["attention_flops_per_token(n_ctx, d, L)", "attention_flops_per_token(n_ctx, d, L) // 3"],
    "12.q1": ["sigmoid(1.2 - 0.2)", "1.2 / (1.2 + 0.2)"],
    "12.q2": ["shifted = optimal_policy(reference_policy, learned_reward + 5, 0.5)\n"
              "same_policy = np.allclose(shifted, optimal_policy(reference_policy, learned_reward, 0.5))\n"
              "same_preferences = np.allclose(sigmoid(X_train @ reward_weights),\n"
              "                               sigmoid((features[first] @ reward_weights + 5)\n"
              "                                       - (features[second] @ reward_weights + 5))[:NUM_TRAIN])\n"
              '"A" if same_policy and same_preferences else "no letter fits"'],
    "12.q3": ["optimal_policy(np.array([0.5, 0.5]), np.array([1.0, 0.0]), 0.5)[0]",
              "optimal_policy(np.array([0.5, 0.5]), np.array([1.0, 0.0]), 2.0)[0]",
              "optimal_policy(np.array([0.5, 0.5]), np.array([1.0, 0.0]), 1.0)[0]"],
    "12.q4": ["weakest = optimal_policy(reference_policy, learned_reward, betas[-1])\n"
              "hacked = weakest.argmax() == learned_reward.argmax() != judge_reward.argmax()\n"
              '"C" if hacked and np.argmax(sweep_learned) == len(betas) - 1 '
              'and sweep_true[-1] < reference_policy @ judge_reward else "no letter fits"'],
    "12.q6": ["parameter_term(7e11) / parameter_term(7e10)", "data_term(1.4e13) / data_term(1.4e12)",
              "1 - parameter_term(7e11) / parameter_term(7e10)"],
    "12.q7": ["weight_memory_gb(70e9, bits=16)", "weight_memory_gb(70e9, bits=32)", "weight_memory_gb(70e9, bits=8)",
              "weight_memory_gb(70e9, bits=4)"],
    "10.q1": ["x = Value(3.0)\nf = x * x + x\nf.backward()\nx.grad",
              "x = Value(3.0)\nf = x * x + x\nf.backward()\nf.data"],
    "10.q3": ["b, A = Tensor(np.zeros(3)), Tensor(np.ones((4, 3)))\n(A + b).sum().backward()\nb.grad[0]",
              "b, A = Tensor(np.zeros(3)), Tensor(np.ones((4, 3)))\n(A + b).sum().backward()\nA.grad[0, 0]",
              "b, A = Tensor(np.zeros(3)), Tensor(np.ones((4, 3)))\n(A + b).sum().backward()\nb.grad.sum()"],
    "10.q4": ["forward_counts[100]", "reverse_counts[100]", "forward_counts[100] // 100"],
    "10.q6": ["error, weights = five_weight_graph(initial_weights)\nerror.backward()\nerror.backward()\n"
              "weights[4].grad",
              "error, weights = five_weight_graph(initial_weights)\nerror.backward()\nweights[4].grad"],
}

EVALUATE = '''
import ast as _ast
import json as _json


def _derive(snippet):
    *body, last = _ast.parse(snippet).body
    scope = dict(globals())
    exec(compile(_ast.Module(body, type_ignores=[]), "<derived>", "exec"), scope)
    value = eval(compile(_ast.Expression(last.value), "<derived>", "eval"), scope)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.item() if hasattr(value, "item") and getattr(value, "size", 0) == 1 else value


print(_json.dumps({key: [_derive(snippet) for snippet in snippets] for key, snippets in %r.items()}, default=repr))
'''


# A lesson tags the cells no question needs (a long training run and what only shows its results) so that this
# test does not pay for them again: nbval runs the whole lesson. A tagged cell is left empty, keeping the numbering.
NOT_NEEDED = "not-needed-by-self-checks"


def run_with_key_answers(path: Path) -> tuple[nbformat.NotebookNode, dict]:
    """Run a copy of the lesson with the key's answers written in, its cells tagged NOT_NEEDED left out; return it
    and the values of DERIVED."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if NOT_NEEDED in cell.metadata.get("tags", []):
            assert "check(" not in cell.source and not ANSWER_CELL.search(cell.source), \
                f"{path.name}: a self-check cell is tagged {NOT_NEEDED}"
            cell.source = ""
    by_variable = {variable: question_id for _, question_id, variable, _ in check_cells(path)}
    for cell in notebook.cells:
        answer_cell = ANSWER_CELL.fullmatch(cell.source.strip()) if cell.cell_type == "code" else None
        if answer_cell:
            cell.source = f"{answer_cell['variable']} = {QUESTIONS[by_variable[answer_cell['variable']]].answer!r}"
    derived = {key: snippets for key, snippets in DERIVED.items() if key.startswith(path.name[:2])}
    notebook.cells.append(nbformat.v4.new_code_cell(EVALUATE % derived))
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs
                      if output.get("name") == "stdout")
    values = json.loads(printed.strip().splitlines()[-1])
    return notebook, values


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_the_key_agrees_with_what_the_lesson_computes(path):
    """Run the lesson with the key's answers in the answer cells: every check says right, and every answer or
    hinted wrong answer the lesson computes is the key's."""
    notebook, values = run_with_key_answers(path)
    for index, question_id, _, _ in check_cells(path):
        printed = "".join(output.get("text", "") for output in notebook.cells[index].outputs)
        assert printed.startswith("Right."), f"{path.name}, {question_id}: the key's answer gets\n{printed}"
    for question_id, (answer, *wrong_answers) in values.items():
        question = QUESTIONS[question_id]
        reading = read_answer(answer, question.kind)
        assert reading.value is not None and same_answer(reading.value, question.answer, question.tolerance), \
            f"{path.name} computes {answer!r} for {question_id}; the key says {show(question.answer)}"
        for wrong in wrong_answers:
            value = read_answer(wrong, question.kind).value
            assert any(same_answer(value, hinted, question.tolerance) for hinted in question.hints), \
                f"{path.name} computes the wrong answer {wrong!r} for {question_id}, but the key has no hint for it"
