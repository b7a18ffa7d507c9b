# Course-side nbgrader settings for the JupyterHub deployment: setup.sh appends this file to the course
# folder's nbgrader_config.py, where both nbgrader (Formgrader, generate_feedback, the exchange) and the
# autograder read it. It points the gradebook at PostgreSQL, so several graders can mark in Formgrader while a
# batch is being graded, and the exchange at the folder the students' global configuration names.

c = get_config()  # noqa: F821 (the course's nbgrader_config.py defines c already; this returns the same object)

# The exchange: the same folder as c.Exchange.root in global_nbgrader_config.py. Set here, after whatever the
# course's configuration chose, so the grader account releases and collects where students fetch and submit.
c.Exchange.root = "/srv/nbgrader/exchange"

# The gradebook: database nnfs_gradebook on this server's PostgreSQL, reached through its Unix socket as the
# role named like the grader account (setup.sh creates both; PostgreSQL's default "peer" rule lets that account
# in without a password). The driver is named because SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3;
# psycopg2-binary is installed with the course's test extras (pip install ".[test]").
c.CourseDirectory.db_url = "postgresql+psycopg2://nnfs-grader@/nnfs_gradebook?host=/var/run/postgresql"
