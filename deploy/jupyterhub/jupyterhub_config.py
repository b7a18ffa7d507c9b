# JupyterHub configuration for teaching Neural Networks from Scratch to a class on one server: local Unix
# accounts log in (PAM), every user's JupyterLab runs as that user from the course's Python environment, and
# the graders share one Formgrader: a JupyterHub service running as the course's grader account in the course
# folder. Installed as /etc/jupyterhub/jupyterhub_config.py by deploy/jupyterhub/setup.sh.
#
# Who may log in comes from a roster file (default /etc/jupyterhub/nnfs-roster.txt, or $NNFS_ROSTER), one
# "<role> <username>" a line, role one of student, grader, admin; '#' starts a comment. Without the file
# nobody can log in. Edit it and restart the hub to add people (their Unix accounts must exist).

import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

COURSE_ID = "nn-from-scratch"  # must equal c.CourseDirectory.course_id of the course's nbgrader_config.py
# The production defaults, which setup.sh and jupyterhub.service use too; each can be changed by the environment
# variable named beside it (tests/test_jupyterhub.py runs the hub on scratch folders, ports and accounts).
GRADER_ACCOUNT = os.environ.get("NNFS_GRADER", "nnfs-grader")  # owns the course folder, runs Formgrader, grades
COURSE_DIR = os.environ.get("NNFS_COURSE_DIR", "/srv/nnfs/course")  # the course repository's checkout
ENV_BIN = os.environ.get("NNFS_ENV_BIN", "/opt/nnfs/venv/bin")  # course environment: nbgrader, jupyterlab, nnfs
ROSTER = os.environ.get("NNFS_ROSTER", "/etc/jupyterhub/nnfs-roster.txt")
HUB_STATE = os.environ.get("NNFS_HUB_STATE", "/srv/jupyterhub")  # the hub's own files (not the gradebook)
FORMGRADER_PORT = int(os.environ.get("NNFS_FORMGRADER_PORT", "9999"))
ROLES = ("student", "grader", "admin")


def read_roster(path: str) -> dict[str, list[str]]:
    """Usernames per role from the roster file (empty when the file does not exist yet)."""
    people: dict[str, list[str]] = {role: [] for role in ROLES}
    roster = Path(path)
    if not roster.is_file():
        return people
    for number, line in enumerate(roster.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2 or words[0] not in ROLES:
            raise ValueError(f"{path}, line {number}: expected '<student|grader|admin> <username>', got {line!r}")
        if words[1] not in people[words[0]]:
            people[words[0]].append(words[1])
    return people


people = read_roster(ROSTER)
graders = people["grader"]

# --- the hub ----------------------------------------------------------------------------------------------
# Plain HTTP on port 8000: put TLS in front of it (a reverse proxy such as nginx or Caddy), or give the hub
# c.JupyterHub.ssl_cert and c.JupyterHub.ssl_key. Students log in with passwords.
c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.db_url = f"sqlite:///{HUB_STATE}/jupyterhub.sqlite"  # the hub's users and servers, not grades
c.JupyterHub.cookie_secret_file = f"{HUB_STATE}/jupyterhub_cookie_secret"

# --- who logs in ------------------------------------------------------------------------------------------
# Local Unix accounts and their passwords (PAM). Any other authenticator (LDAP, OAuth with the university's
# login) works the same way as long as each username is also a Unix account on this server, which the
# spawner below needs.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(people["student"]) | set(graders) | set(people["admin"])
c.Authenticator.admin_users = set(people["admin"])

# --- the graders' shared Formgrader ------------------------------------------------------------------------
# nbgrader's course list shows a grader the course's Formgrader when the grader belongs to the group
# formgrade-<course id> and may reach the service named <course id>.
c.JupyterHub.load_groups = {f"formgrade-{COURSE_ID}": {"users": graders}}
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE_ID}",
        "groups": [f"formgrade-{COURSE_ID}"],
        "scopes": [f"access:services!service={COURSE_ID}", "list:services", f"read:services!service={COURSE_ID}"],
    },
    # A user's server acts with its owner's permissions, so the course list can find the Formgrader service.
    {"name": "server", "scopes": ["inherit"]},
]
# One JupyterLab, run by the hub as the grader account in the course folder (where nbgrader_config.py is):
# every grader who opens it sees the same source/, submissions and gradebook, and its terminal is where
# `autograder grade` runs. The gradebook is in PostgreSQL (course_settings.py), so graders marking in
# Formgrader while a batch is graded do not lock each other out as they would with SQLite.
c.JupyterHub.services = [
    {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{FORMGRADER_PORT}",
        "command": [f"{ENV_BIN}/jupyterhub-singleuser"],
        "user": GRADER_ACCOUNT,
        "cwd": COURSE_DIR,
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/lab",
            "PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        },
    }
]

# --- everyone's own server --------------------------------------------------------------------------------
# The default LocalProcessSpawner starts each user's JupyterLab as that user's Unix account, in their home
# folder, so students cannot read each other's work (the hub runs as root for this). It enforces no memory or
# CPU limits: for a large class use systemdspawner (c.JupyterHub.spawner_class = "systemdspawner", with
# c.SystemdSpawner.mem_limit and cpu_limit) or run the hub on a bigger machine. DockerSpawner or Kubernetes
# would also need the exchange on a shared volume (or an exchange service) and are not covered here.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [f"{ENV_BIN}/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# Kernels, `autograder validate` and the nbgrader extensions come from the course environment.
c.Spawner.environment = {"PATH": f"{ENV_BIN}:/usr/local/bin:/usr/bin:/bin"}
# Idle servers keep running until their users stop them; jupyterhub-idle-culler (a separate package, run as
# another service) can stop them after a time without activity.
