# nbgrader settings every account on the JupyterHub server reads (installed as /etc/jupyter/nbgrader_config.py
# by setup.sh): which course the students' Assignments tab shows, and where the exchange is, through which
# released assignments reach students and their submissions reach the graders. The course folder's own
# nbgrader_config.py (with course_settings.py appended) is read after this one and wins where both set a value.

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# The same id as c.CourseDirectory.course_id in the course's nbgrader_config.py and the name of the
# Formgrader service in jupyterhub_config.py.
c.CourseDirectory.course_id = "nn-from-scratch"

# A folder every account can write into (setup.sh lays it out with tools/exchange-setup.sh); nbgrader keeps each
# course's outbound/ (released), inbound/ (submitted) and feedback/ folders under it.
c.Exchange.root = "/srv/nbgrader/exchange"

# A submission readable by its student and the graders only (nbgrader's own submit leaves it readable by every
# account that learns its name); see autograder/exchange.py.
c.ExchangeFactory.submit = "autograder.exchange.PrivateSubmit"

# The Validate button shows the same PASS / FAIL / TODO report as `autograder validate` (autograder/validate.py),
# where the course's environment (which has the autograder package) runs the student's server.
c.Execute.timeout = 60
try:
    from autograder.validate import validate_dialog_hook
except ImportError:  # an environment without the course's package keeps nbgrader's own dialog
    pass
else:
    c.Execute.on_notebook_start = validate_dialog_hook(timeout=c.Execute.timeout)
