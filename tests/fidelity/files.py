"""fid_files: files, random numbers and plots.

Covers a data file shipped in the assignment folder that both the student's code and the test open, a file the
student's notebook writes while it runs and one the student's function writes when the test calls it, seeded
``np.random`` and ``random`` draws compared with draws the test makes itself, and a returned matplotlib figure and
axes inspected (title, axis labels, line data). No AUTOTEST here: generate_assignment then runs no code, so
nothing the notebook writes lands in the source folder.
"""

from .notebook import Assignment, Variant, answer, locked_code, locked_text, tests, text

CELLS = (
    locked_text("intro", """\
# Files, random numbers and plots

`temperatures.csv`, next to this notebook, holds two weeks of daily temperatures (columns `day`, `celsius`).
6 points."""),
    locked_code("setup", """\
import csv
import random

import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np"""),

    text("## Part 1: Reading the data (1 point)\n\n`load_temperatures(path)` returns the `celsius` column as a "
         "list of floats."),
    answer("load_temperatures", """\
def load_temperatures(path):
    ### BEGIN SOLUTION
    with open(path, newline="") as handle:
        return [float(row["celsius"]) for row in csv.DictReader(handle)]
    ### END SOLUTION"""),
    tests("test_shipped_data_file", 1, """\
\"\"\"load_temperatures reads the file shipped with the assignment (the test reads it too).\"\"\"
with open("temperatures.csv", newline="") as handle:
    expected = [float(row["celsius"]) for row in csv.DictReader(handle)]
assert len(expected) == 14
assert load_temperatures("temperatures.csv") == expected"""),

    text("## Part 2: Writing a summary (2 points)\n\n`save_summary(values, path)` writes one line, "
         "`count=<n> mean=<mean, 2 decimals> max=<max, 1 decimal>`, to `path`. Then save the summary of the "
         "temperatures to `summary.txt`."),
    answer("save_summary", """\
def save_summary(values, path):
    ### BEGIN SOLUTION
    with open(path, "w") as handle:
        handle.write(f"count={len(values)} mean={sum(values) / len(values):.2f} max={max(values):.1f}\\n")
    ### END SOLUTION


### BEGIN SOLUTION
save_summary(load_temperatures("temperatures.csv"), "summary.txt")
### END SOLUTION"""),
    tests("test_file_written_by_the_notebook", 1, '''\
"""summary.txt, written when the notebook ran, summarises the data file."""
with open("summary.txt") as handle:
    written = handle.read()
assert written == "count=14 mean=13.27 max=17.0\\n", f"summary.txt holds {written!r}"'''),
    tests("test_file_written_when_called", 1, '''\
"""save_summary writes the file it is given."""
save_summary([1.0, 2.0, 6.0], "summary_of_three.txt")
with open("summary_of_three.txt") as handle:
    assert handle.read() == "count=3 mean=3.00 max=6.0\\n"'''),

    text("## Part 3: Random numbers (2 points)\n\n`noisy(values, scale)` adds Gaussian noise of standard "
         "deviation `scale` drawn with `np.random.normal`; `roll_dice(count)` rolls `count` dice with "
         "`random.randint`. Both use the global generators, so a seed set before the call decides the draws."),
    answer("random_draws", """\
### BEGIN SOLUTION
def noisy(values, scale):
    return values + np.random.normal(0.0, scale, size=len(values))


def roll_dice(count):
    return [random.randint(1, 6) for _ in range(count)]
### END SOLUTION"""),
    tests("test_numpy_seed", 1, """\
\"\"\"noisy draws from np.random: after the same seed, the same noise as the test draws.\"\"\"
values = np.array([1.0, 2.0, 3.0])
np.random.seed(7)
expected = values + np.random.normal(0.0, 0.5, size=3)
np.random.seed(7)
assert np.allclose(noisy(values, 0.5), expected), "noisy should draw with np.random.normal"
"""),
    tests("test_random_seed", 1, """\
\"\"\"roll_dice draws from random: after the same seed, the same rolls as the test makes.\"\"\"
random.seed(2024)
expected = [random.randint(1, 6) for _ in range(8)]
random.seed(2024)
assert roll_dice(8) == expected"""),

    text("## Part 4: A plot (1 point)\n\n`plot_temperatures(values)` draws the values against days 1, 2, ... as "
         "a line, titled `Daily temperature`, with axis labels `day` and `temperature (°C)`, and returns "
         "`(figure, axes)`."),
    answer("plot_temperatures", """\
def plot_temperatures(values):
    ### BEGIN SOLUTION
    figure, axes = plt.subplots()
    axes.plot(list(range(1, len(values) + 1)), values)
    axes.set_title("Daily temperature")
    axes.set_xlabel("day")
    axes.set_ylabel("temperature (°C)")
    return figure, axes
    ### END SOLUTION"""),
    tests("test_plot", 1, """\
\"\"\"The figure and axes returned: title, labels and the line's data.\"\"\"
figure, axes = plot_temperatures([3.0, 5.5, 4.0])
assert isinstance(figure, matplotlib.figure.Figure)
assert axes.get_title() == "Daily temperature"
assert axes.get_xlabel() == "day" and axes.get_ylabel() == "temperature (°C)"
days, temperatures = axes.lines[0].get_data()
assert list(days) == [1, 2, 3] and list(temperatures) == [3.0, 5.5, 4.0]
plt.close(figure)"""),
)

VARIANTS = (
    Variant("alternative", {
        "load_temperatures": """\
def load_temperatures(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=1).tolist()""",
        "save_summary": """\
def save_summary(values, path):
    mean = np.mean(values)
    line = "count=%d mean=%.2f max=%.1f" % (len(values), mean, np.max(values))
    with open(path, "w", encoding="utf-8") as handle:
        print(line, file=handle)


temperatures = load_temperatures("temperatures.csv")
save_summary(temperatures, "summary.txt")""",
        "random_draws": """\
def noisy(values, scale):
    return values + scale * np.random.standard_normal(len(values))


def roll_dice(count):
    return [random.choice(range(1, 7)) for _ in range(count)]""",
        "plot_temperatures": """\
def plot_temperatures(values):
    figure = plt.figure()
    axes = figure.add_subplot()
    axes.plot(range(1, len(values) + 1), values, marker="o")
    axes.set(title="Daily temperature", xlabel="day", ylabel="temperature (°C)")
    return figure, axes""",
    }),
    Variant("partial", {
        "random_draws": """\
def noisy(values, scale):
    return values + np.random.default_rng().normal(0.0, scale, size=len(values))


def roll_dice(count):
    return [random.randint(1, 6) for _ in range(count)]""",
        "plot_temperatures": """\
def plot_temperatures(values):
    figure, axes = plt.subplots()
    axes.plot(values)
    axes.set_title("Daily temperature")
    axes.set_xlabel("day")
    axes.set_ylabel("temperature")
    return figure, axes""",
    }, loses=("test_numpy_seed", "test_plot")),
    # Other mistakes, failing the tests the partial variant passes but one.
    Variant("other_mistakes", {
        "load_temperatures": """\
def load_temperatures(path):
    with open(path, newline="") as handle:
        return [row["celsius"] for row in csv.DictReader(handle)]""",
        "save_summary": """\
def save_summary(values, path):
    values = [float(value) for value in values]
    with open(path, "w") as handle:
        handle.write(f"count={len(values)} mean={sum(values) / len(values):.2f} max={max(values):.1f}")


save_summary(load_temperatures("temperatures.csv"), "summary.txt")""",
        "random_draws": """\
def noisy(values, scale):
    return values + np.random.normal(0.0, scale, size=len(values))


def roll_dice(count):
    return [int(random.random() * 6) + 1 for _ in range(count)]""",
    }, loses=("test_shipped_data_file", "test_file_written_by_the_notebook", "test_file_written_when_called",
              "test_random_seed")),
)

ASSIGNMENT = Assignment("fid_files", "files, randomness and plots: a shipped CSV, files the student's code writes, "
                        "np.random/random seeds, a matplotlib figure", CELLS, VARIANTS,
                        data_files=("temperatures.csv",))
