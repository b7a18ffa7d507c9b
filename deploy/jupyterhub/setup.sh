#!/usr/bin/env bash
# Prepares one Debian or Ubuntu server to run the course on JupyterHub (see "Running the course on JupyterHub"
# in README.md). Run it as root after the course is checked out and its Python environment installed; it can
# be run again (each step checks what is already there). It:
#   1. installs Debian's postgresql (the gradebook) and bubblewrap (the grading sandbox) when missing;
#   2. creates the grader account (nnfs-grader);
#   3. lays out the exchange and gives the grader the course folder, closed to every other account, with
#      tools/exchange-setup.sh (run it again with student accounts as they are added: see README.md);
#   4. creates the PostgreSQL role nnfs-grader and its database nnfs_gradebook (peer login over the socket);
#   5. installs the configuration files: /etc/jupyter/nbgrader_config.py, /etc/jupyterhub/jupyterhub_config.py,
#      a roster with nobody in it yet, the grader account's Jupyter Server settings, and appends
#      course_settings.py to the course's nbgrader_config.py (once);
#   6. turns nbgrader's Formgrader and Create Assignment off for everyone but the grader account;
#   7. publishes a read-only copy of the lessons in /srv/nnfs/lessons (the course folder itself is closed to
#      students: it holds the hidden tests), then checks the gradebook and the sandbox as the grader account;
#   8. installs and starts the jupyterhub systemd unit (when systemd runs here).
# Paths can be changed with NNFS_COURSE_DIR and NNFS_ENV_BIN; if you change them, change the same defaults in
# jupyterhub_config.py and jupyterhub.service too.
set -euo pipefail

COURSE_DIR=${NNFS_COURSE_DIR:-/srv/nnfs/course}
ENV_BIN=${NNFS_ENV_BIN:-/opt/nnfs/venv/bin}
GRADER=nnfs-grader
DATABASE=nnfs_gradebook
EXCHANGE=/srv/nbgrader/exchange
HUB_STATE=/srv/jupyterhub
LESSONS=/srv/nnfs/lessons
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARKER="Course-side nbgrader settings for the JupyterHub deployment"

fail() { echo "setup.sh: $*" >&2; exit 1; }
step() { echo "==> $*"; }

[ "$(id -u)" -eq 0 ] || fail "run this as root (it creates accounts, folders and a database)."
[ -f "$COURSE_DIR/nbgrader_config.py" ] || fail "no course at $COURSE_DIR (expected its nbgrader_config.py): \
clone the course repository there, or set NNFS_COURSE_DIR."
for program in jupyterhub jupyterhub-singleuser jupyter nbgrader autograder; do
  [ -x "$ENV_BIN/$program" ] || fail "$ENV_BIN/$program is missing: install the course environment first \
(python3 -m venv ${ENV_BIN%/bin} && $ENV_BIN/pip install $COURSE_DIR psycopg2-binary jupyterhub)."
done
"$ENV_BIN/python" -c "import psycopg2" 2>/dev/null || fail "psycopg2 is missing: $ENV_BIN/pip install psycopg2-binary"
command -v configurable-http-proxy >/dev/null 2>&1 || \
  echo "warning: configurable-http-proxy is not on PATH; JupyterHub needs it (npm install -g configurable-http-proxy)." >&2

as_grader() {  # run a command as the grader account, with its own home (for --user settings)
  runuser -u "$GRADER" -- env HOME="$(getent passwd "$GRADER" | cut -d: -f6)" "$@"
}
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

step "1. system packages"
missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl enable --now postgresql
fi

step "2. grader account $GRADER"
id -u "$GRADER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$GRADER"

step "3. exchange $EXCHANGE; $GRADER owns $COURSE_DIR"
install -d -m 0755 "$(dirname "$EXCHANGE")"
# Students never read the course folder (it holds the instructor notebooks with the hidden tests).
bash "$HERE/../../tools/exchange-setup.sh" "$EXCHANGE" "$GRADER" "$COURSE_DIR"

step "4. PostgreSQL role $GRADER and database $DATABASE"
if [ -z "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$GRADER'")" ]; then
  as_postgres createuser "$GRADER"
fi
if [ -z "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
  as_postgres createdb --owner="$GRADER" "$DATABASE"
fi

step "5. configuration files"
install -D -m 0644 "$HERE/global_nbgrader_config.py" /etc/jupyter/nbgrader_config.py
install -D -m 0644 "$HERE/jupyterhub_config.py" /etc/jupyterhub/jupyterhub_config.py
if [ ! -f /etc/jupyterhub/nnfs-roster.txt ]; then
  # The example with every entry commented out: nobody can log in until the roster is edited.
  sed -E 's/^([a-z])/# \1/' "$HERE/nnfs-roster.example.txt" > /etc/jupyterhub/nnfs-roster.txt
  chmod 0644 /etc/jupyterhub/nnfs-roster.txt
fi
grader_home=$(getent passwd "$GRADER" | cut -d: -f6)
install -d -o "$GRADER" -g "$GRADER" -m 0755 "$grader_home/.jupyter"
install -o "$GRADER" -g "$GRADER" -m 0644 "$HERE/grader_jupyter_server_config.py" \
  "$grader_home/.jupyter/jupyter_server_config.py"
if ! grep -qF "$MARKER" "$COURSE_DIR/nbgrader_config.py"; then
  { echo; cat "$HERE/course_settings.py"; } >> "$COURSE_DIR/nbgrader_config.py"
fi
install -d -m 0700 "$HUB_STATE"

step "6. Formgrader and Create Assignment only for $GRADER"
"$ENV_BIN/jupyter" server extension disable --sys-prefix nbgrader.server_extensions.formgrader
"$ENV_BIN/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:formgrader
"$ENV_BIN/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:create-assignment
(cd / && as_grader "$ENV_BIN/jupyter" server extension enable --user nbgrader.server_extensions.formgrader)
(cd / && as_grader "$ENV_BIN/jupyter" labextension enable --level=user @jupyter/nbgrader:formgrader)
(cd / && as_grader "$ENV_BIN/jupyter" labextension enable --level=user @jupyter/nbgrader:create-assignment)

step "7. lessons in $LESSONS; checks as $GRADER"
install -d -m 0755 "$(dirname "$LESSONS")"
rm -rf "$LESSONS.new"
cp -r "$COURSE_DIR/lessons" "$LESSONS.new"
find "$LESSONS.new" -name .ipynb_checkpoints -prune -exec rm -rf {} +
chown -R root:root "$LESSONS.new"
chmod -R a+rX,go-w "$LESSONS.new"
rm -rf "$LESSONS"
mv "$LESSONS.new" "$LESSONS"
(cd "$COURSE_DIR" && as_grader "$ENV_BIN/python" -c "
from autograder import grading
settings = grading.load_settings('.')
with settings.gradebook() as gradebook:
    print('gradebook:', settings.db_url, '-', len(gradebook.assignments), 'assignments recorded')
grading.check_sandbox()
print('sandbox: student code can run in bubblewrap as this account')
")

step "8. systemd unit"
install -D -m 0644 "$HERE/jupyterhub.service" /etc/systemd/system/jupyterhub.service
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable --now jupyterhub
  echo "JupyterHub runs on port 8000. Add people to /etc/jupyterhub/nnfs-roster.txt, then: systemctl restart jupyterhub"
else
  echo "systemd is not running here: start the hub with"
  echo "  cd $HUB_STATE && $ENV_BIN/jupyterhub -f /etc/jupyterhub/jupyterhub_config.py"
fi
