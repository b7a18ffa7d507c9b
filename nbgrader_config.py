"""nbgrader configuration for the Neural Networks from Scratch course.

Read by every nbgrader command and by the nbgrader extensions of JupyterLab started in this folder.
Instructor notebooks live in source/, the generated student versions in assignments/.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

from autograder import feedback
from autograder.feedback import FeedbackGrades, HideHiddenTests, RenderMath
from autograder.guard import refuse_plain_autograde
from autograder.validate import validate_dialog_hook

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "nn-from-scratch"
c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
# Only the notebooks and data an assignment needs are copied to students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# The exchange is where released assignments and collected submissions travel. The nbgrader default,
# /usr/local/share/nbgrader/exchange, needs root; NBGRADER_EXCHANGE points a shared machine elsewhere.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", os.path.join(COURSE_ROOT, "exchange"))
# `nbgrader collect` takes only what a student in the roster (the gradebook's students) handed in as themselves,
# copied without following links; anything else stays in the exchange and is named in a warning (see
# autograder/exchange.py; tools/exchange-setup.sh prepares the exchange folders and the students' settings).
c.ExchangeFactory.collect = "autograder.exchange.CheckedCollect"
c.CheckedCollect.require_roster = True
# Released feedback is readable by its student's account only (nbgrader's: by any account that knows its name).
c.ExchangeFactory.release_feedback = "autograder.exchange.PrivateReleaseFeedback"

# Grading is `autograder grade` (student code sandboxed, tests outside it): nbgrader's own autograde, which would
# run the tests in the student's kernel, stops with a message saying so (see autograder/guard.py).
refuse_plain_autograde()

# Seconds per cell when grading or validating; a cell that runs longer is interrupted and scores zero.
c.Execute.timeout = 60
# JupyterLab's Validate button (and `nbgrader validate`) runs nbgrader's validator, which reports what
# `autograder validate` reports: this hook runs that check and hands nbgrader its report (autograder/validate.py).
c.Execute.on_notebook_start = validate_dialog_hook(timeout=c.Execute.timeout)

# Feedback keeps the student's own work and scores but never the hidden tests or their expected values; a part
# still waiting for a person says "pending", and formulas are drawn into the page, which loads nothing from the
# internet (autograder/feedback.py). Set for the feedback's exporter only: Formgrader keeps its own template.
c.GenerateFeedback.preprocessors = [FeedbackGrades, HideHiddenTests, RenderMath, CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.HTMLExporter.template_name = feedback.TEMPLATE_NAME
c.GenerateFeedback.HTMLExporter.template_file = feedback.TEMPLATE_FILE
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = feedback.template_basedirs()
