"""Feedback pages: what ``nbgrader generate_feedback`` writes for the course, and pages for what it cannot read.

Instructor side only (``nbgrader_config.py`` and :mod:`autograder.grading` use it). nbgrader's feedback shows each
test cell as it ran at grading time, scores every part (0 for one still waiting for a person) and loads MathJax
from the internet. The course's configuration changes three things:

* :class:`HideHiddenTests` removes the hidden tests' source and, for every cell that had hidden tests, replaces
  the outputs with a short report that keeps only what is safe to show: the exception type and, for
  :class:`autograder.checks.CheckFailure`, the first line of its message (which by construction holds no expected
  value); a failure of a visible test or of the student's own code is shown whole, as ``autograder validate``
  shows it;
* :class:`FeedbackGrades` marks the parts still waiting for a person, and the course's template
  (``templates/course_feedback``) says "pending" for them instead of a score;
* :class:`RenderMath` draws the formulas of text cells as SVG while the page is written (with matplotlib's
  mathtext), so a page needs no script and shows its maths offline.

:func:`write_unreadable_pages` writes the page of a notebook that could not be graded at all (nbgrader has no
graded notebook to write one from): why it scored 0 and what to do.
"""

from __future__ import annotations

import functools
import hashlib
import html
import io
import json
import re
import shutil
from pathlib import Path

from nbformat.v4 import new_output
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
HIDDEN_PLACEHOLDER = "# Hidden tests ran here when your work was graded; their code is not shown."
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# How the grader marks, in an error's message, a failure that is safe to show whole: one raised by the student's
# own code, or a visible assertion of a cell that also has hidden tests.
STUDENT_RAISED = "raised by your code: "
VISIBLE_FAILURE = "visible test: "


def remove_hidden_region(source: str) -> tuple[str, bool]:
    """Return ``source`` with every hidden-test region replaced by one placeholder line, and whether any was."""
    kept, inside, found = [], False, False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside, found = True, True
            kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_PLACEHOLDER)
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), found


def safe_error_summary(ename: str, evalue: str) -> str:
    """What to show of an error from a hidden-test cell: never an expected value of a hidden test.

    A failure the grader marked as the student's own (:data:`STUDENT_RAISED`) or as a visible test's
    (:data:`VISIBLE_FAILURE`) is shown whole, as ``autograder validate`` shows it (what was returned, what was
    expected); any other keeps one line at most.
    """
    message = ANSI_ESCAPE.sub("", evalue).strip()
    first_line = message.split("\n")[0]
    if message.startswith(STUDENT_RAISED):
        return f"{ename} {message}"
    if message.startswith(VISIBLE_FAILURE):
        return f"{ename}: {message[len(VISIBLE_FAILURE):]}"
    if ename == "CheckFailure":
        return f"{ename}: {first_line}"
    if ename == "NotImplementedError":
        return "NotImplementedError: a function this test uses is not written yet."
    if ename == "AssertionError":
        # A bare assert's message and traceback may quote the hidden expected values.
        return "AssertionError: a hidden test failed."
    # Errors raised by the student's own code (NameError, TypeError, ...) are theirs to see.
    return f"{ename}: {first_line}" if first_line else ename


class HideHiddenTests(NbGraderPreprocessor):
    """Strip hidden tests and what their failures reveal from feedback notebooks."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, had_hidden = remove_hidden_region(cell.source)
        if not had_hidden:
            return cell, resources
        errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
        if errors:
            lines = [safe_error_summary(error.get("ename", "Error"), error.get("evalue", "")) for error in errors]
            text = "A test in this cell failed.\n" + "\n".join(lines) + (
                "\nHidden tests check your functions on inputs you have not seen: re-read the task, "
                "then test your code on your own examples.\n")
        else:
            text = "All tests in this cell passed.\n"
        # Everything the hidden tests printed or displayed is dropped: it could show their values.
        cell.outputs = [new_output("stream", name="stdout", text=text)]
        return cell, resources


# --- parts waiting for a person ----------------------------------------------------------------------------------

class FeedbackGrades(GetGrades):
    """nbgrader's GetGrades, and for each part whether it still waits for a person (``nbgrader.pending`` in its
    metadata, ``pending_points`` in the resources): nbgrader scores such a part 0 until it is graded by hand."""

    def preprocess(self, nb, resources):
        resources["nbgrader"]["pending_points"] = 0.0
        return super().preprocess(nb, resources)

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                         self.assignment_id, self.student_id)
        # A score given by hand counts (and shows) even while the part is flagged for another look.
        pending = bool(grade.needs_manual_grade and grade.manual_score is None)
        cell.metadata.nbgrader["pending"] = pending
        if pending:
            resources["nbgrader"]["pending_points"] += float(grade.max_score or 0)


# --- the course's feedback template ------------------------------------------------------------------------------

TEMPLATE_NAME = "course_feedback"
TEMPLATE_FILE = "feedback.html.j2"


def template_basedirs() -> list[str]:
    """Where nbconvert finds the course's feedback template and nbgrader's, which it extends."""
    import nbgrader
    return [str(Path(__file__).with_name("templates")),
            str(Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates")]


# --- maths drawn when the page is written ------------------------------------------------------------------------

# $$...$$ and \[...\] are shown on a line of their own, $...$ and \(...\) in the text; $ must not be followed by a
# space or preceded by a backslash, as in MathJax's and Jupyter's reading of markdown.
MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|\\\[(?P<display2>.+?)\\\]|\\\((?P<inline2>.+?)\\\)"
                  r"|(?<![\\$])\$(?P<inline>[^\s$](?:[^$\\]|\\.)*?)(?<!\s)\$(?!\d)", re.S)
# A fenced code block (to its closing fence, or the cell's end) or a code span.
CODE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)|(`+)(?!`).+?(?<!`)\2(?!`)", re.M | re.S)
# TeX that mathtext spells otherwise, or does without.
TEX_SPELLINGS = [(re.compile(pattern), replacement) for pattern, replacement in [
    (r"\\le(?![A-Za-z])", r"\\leq"), (r"\\ge(?![A-Za-z])", r"\\geq"), (r"\\[td]frac(?![A-Za-z])", r"\\frac"),
    (r"\\[lr]vert(?![A-Za-z])", "|"), (r"\\[lr]Vert(?![A-Za-z])", r"\\|"),
    (r"\\(?:displaystyle|textstyle)(?![A-Za-z])", ""), (r"\\[Bb]igg?[lrm]?(?![A-Za-z])", ""),
    (r"\\frac\s*([A-Za-z0-9])\s*([A-Za-z0-9])", r"\\frac{\1}{\2}"), (r"\\sqrt\s*([A-Za-z0-9])", r"\\sqrt{\1}"),
    (r"\s+", " "),
]]
MATH_POINTS = 12.5  # next to the page's 14 px text (Computer Modern is small for its size)
SVG_NOISE = re.compile(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<metadata>.*?</metadata>|<style.*?</style>|<!--.*?-->", re.S)


def _entities(text: str) -> str:
    """``text`` for HTML inside markdown: every character markdown or MathJax could act on as an entity."""
    return "".join(c if c.isalnum() or c == " " else f"&#{ord(c)};" for c in text)


@functools.lru_cache(maxsize=None)
def formula_svg(tex: str) -> tuple[str, float] | None:
    """An SVG drawing of a TeX formula (glyphs as paths: no font needed) and how far it reaches below the baseline,
    in points; None when mathtext cannot draw it."""
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    for pattern, replacement in TEX_SPELLINGS:
        tex = pattern.sub(replacement, tex)
    buffer = io.BytesIO()
    settings = {"mathtext.fontset": "cm", "svg.fonttype": "path", "svg.hashsalt": "feedback",
                "savefig.transparent": True}
    try:
        with matplotlib.rc_context(settings):
            depth = mathtext.math_to_image(f"${tex.strip()}$", buffer, prop=FontProperties(size=MATH_POINTS),
                                           format="svg")
    except Exception:  # mathtext knows part of TeX only (no environments such as pmatrix)
        return None
    svg = SVG_NOISE.sub("", buffer.getvalue().decode("utf-8"))
    # Several drawings share one page: each one's ids (glyphs, groups) get a prefix of their own.
    prefix = "m" + hashlib.sha1(tex.encode()).hexdigest()[:10] + "-"
    svg = re.sub(r'(\bid="|href="#)', lambda match: match.group(1) + prefix, svg)
    return re.sub(r"\s+", " ", svg).strip(), float(depth)


def formula_html(tex: str, display: bool) -> str:
    """A formula as HTML for a markdown cell: its drawing, or its TeX in code style if it cannot be drawn."""
    drawn = formula_svg(tex)
    label = _entities(" ".join(tex.split()))
    if drawn is None:
        return f'<code class="math-tex" title="formula">{label}</code>'
    svg, depth = drawn
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{label}" '
                              f'style="vertical-align: {-depth:g}pt; overflow: visible" ', 1)
    style = "display: block; text-align: center; margin: 0.8em 0" if display else "white-space: nowrap"
    return f'<span class="math{" math-display" if display else ""}" style="{style}">{svg}</span>'


def render_math(markdown: str) -> str:
    """``markdown`` with each formula replaced by its drawing; code (fenced blocks, code spans) left as it is."""
    done, start = [], 0
    for code in CODE.finditer(markdown):
        done += [_render_text(markdown[start:code.start()]), code.group(0)]
        start = code.end()
    return "".join(done) + _render_text(markdown[start:])


def _render_text(text: str) -> str:
    def replace(match) -> str:
        display = match.group("display") or match.group("display2")
        return formula_html(display if display is not None else match.group("inline") or match.group("inline2"),
                            display is not None)
    return MATH.sub(replace, text)


class RenderMath(NbGraderPreprocessor):
    """Draw the formulas of every text cell (instructions, written answers) into the feedback page."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown" and ("$" in cell.source or "\\(" in cell.source or "\\[" in cell.source):
            cell.source = render_math(cell.source)
        return cell, resources


# --- notebooks that could not be graded --------------------------------------------------------------------------

UNREADABLE_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8" />
<title>{notebook}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 14px;
       line-height: 1.5; color: #333; max-width: 52em; margin: 2em auto; padding: 0 1em; }}
h4 {{ border-bottom: 1px solid #ddd; padding-bottom: 0.5em; }}
.reason {{ background: #fdf3f2; border-left: 4px solid #d2413a; padding: 0.6em 1em; white-space: pre-wrap; }}
</style>
</head>
<body>
<h4>{notebook} (Score: 0.0 / {max_score:.1f})</h4>
<p>{summary}</p>
<p><b>Why:</b></p>
<div class="reason">{reasons}</div>
<p><b>What to do:</b> {advice}</p>
</body>
</html>
"""
NOT_READABLE_ADVICE = (
    "Open the notebook in JupyterLab. If it does not open, the file was damaged (typically by a copy or an upload "
    "that stopped half-way, or by editing it in a text editor): use your last good copy (JupyterLab's File > "
    "Revert Notebook to Checkpoint, or a fresh copy of the assignment with your answers pasted back in). Check it "
    "with the Validate button or <code>autograder validate</code>, then submit it again. If the deadline has "
    "passed, write to your instructor, who can grade a new copy.")
NOT_HANDED_IN_ADVICE = (
    "Submit the notebook under this exact name in the assignment's folder (a renamed copy is not graded), after "
    "checking it with the Validate button or <code>autograder validate</code>. If the deadline has passed, write "
    "to your instructor.")


def _for_student(problem: str) -> str:
    """A grading problem as the student may read it: the notebook named by its file name, not the server's path."""
    where, colon, rest = problem.partition(": ")
    return f"{Path(where).name}{colon}{rest}" if colon and where.endswith(".ipynb") else problem


def write_unreadable_pages(settings, assignment: str, student: str, results_file: Path) -> list[Path]:
    """Feedback pages for the notebooks of one student's latest grading that have no graded notebook.

    settings: the course's :class:`autograder.gradebook.CourseSettings`
    results_file: the student's grades/<assignment>/<student>.json (each notebook's problems)
    Each page is feedback/<student>/<assignment>/<notebook>.html, where nbgrader's release_feedback finds it, next to
    the submission's timestamp and secret (copied from autograded/<student>/<assignment>/) that release_feedback
    needs. Returns the pages written.
    """
    try:
        notebooks = json.loads(Path(results_file).read_text(encoding="utf-8")).get("notebooks", [])
    except (OSError, ValueError):
        return []
    autograded = settings.autograded(student, assignment)
    missing = [entry for entry in notebooks
               if entry.get("notebook") and not (autograded / f"{entry['notebook']}.ipynb").is_file()]
    if not missing:
        return []
    with settings.gradebook() as gradebook:  # the notebook's points: the result lists only what could be scored
        max_scores = {notebook.name: notebook.max_score for notebook in gradebook.find_assignment(assignment).notebooks}
    folder = settings.root / settings.feedback_directory / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for kept in ("timestamp.txt", "submission_secret.txt"):
        if (autograded / kept).is_file():
            shutil.copyfile(autograded / kept, folder / kept)
    written = []
    for entry in missing:
        name = entry["notebook"]
        problems = [_for_student(str(problem)) for problem in entry.get("problems", [])] or \
            ["The notebook could not be graded."]
        handed_in = not any("not handed in" in problem for problem in problems)
        summary = (f"Your {name}.ipynb could not be read, so none of its tests could run and it scored 0."
                   if handed_in else f"No {name}.ipynb was handed in, so it scored 0.")
        page = UNREADABLE_PAGE.format(notebook=html.escape(name), max_score=float(max_scores.get(name) or 0),
                                      summary=html.escape(summary), reasons=html.escape("\n".join(problems)),
                                      advice=NOT_READABLE_ADVICE if handed_in else NOT_HANDED_IN_ADVICE)
        (folder / f"{name}.html").write_text(page, encoding="utf-8")
        written.append(folder / f"{name}.html")
    return written
