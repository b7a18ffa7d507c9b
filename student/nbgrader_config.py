"""nbgrader configuration for students of the course.

Read by the nbgrader extensions of JupyterLab started in this folder: the Assignments tab (fetch and submit,
when your instructor uses an nbgrader exchange) and the Validate button.
"""

import os

from autograder.validate import validate_dialog_hook

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = $course_id

# The exchange is where released assignments and submissions travel. Your instructor tells you when to set
# NBGRADER_EXCHANGE (a shared folder on a course server); otherwise it is a folder inside this one.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", os.path.join(COURSE_ROOT, "exchange"))
if "NBGRADER_EXCHANGE" in os.environ:
    # On a shared server your submission is readable by you and the instructors only (nbgrader's own submit
    # leaves it readable by every account that learns its name).
    c.ExchangeFactory.submit = "autograder.exchange.PrivateSubmit"

# Seconds per cell when validating, the same limit as when your work is graded.
c.Execute.timeout = $timeout
# The Validate button shows the report of `autograder validate` (see autograder/validate.py).
c.Execute.on_notebook_start = validate_dialog_hook(timeout=c.Execute.timeout)
