"""nbgrader settings of a student of Neural Networks from Scratch on the course's shared machine.

tools/exchange-setup.sh installs this file as ~/.jupyter/nbgrader_config.py of every student account, with the
course id and the exchange folder filled in. nbgrader's fetch_assignment, submit and fetch_feedback (and
JupyterLab's Assignments tab) read it; it needs the course's Python environment (the `autograder` package).
"""

from autograder.validate import validate_dialog_hook

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "@COURSE_ID@"
c.Exchange.root = "@EXCHANGE_ROOT@"

# nbgrader's default, kept on purpose: a submission's folder in the exchange ends with a random string. Without
# it the name is <student>+<assignment>+<time to the microsecond>, which another student finds in seconds (the
# time is within milliseconds of the inbound folder's modification time) and can then read and overwrite.
c.ExchangeSubmit.add_random_string = True

# Submissions readable only by their owner and the instructors, not by every account that learns their name, and
# the local copy of each submission (with the secret that names its feedback) closed to other accounts.
c.ExchangeFactory.submit = "autograder.exchange.PrivateSubmit"

# JupyterLab's Validate button shows the report of `autograder validate` (autograder/validate.py), with the same
# limit of seconds per cell as the course's nbgrader_config.py.
c.Execute.timeout = 60
c.Execute.on_notebook_start = validate_dialog_hook(timeout=c.Execute.timeout)
