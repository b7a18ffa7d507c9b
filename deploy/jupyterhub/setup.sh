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
# Every path and name below can be changed by an environment variable of the same name with NNFS_ in front
# (NNFS_COURSE_DIR, NNFS_ENV_BIN, NNFS_EXCHANGE, ...); the defaults are the production ones, which
# jupyterhub_config.py and jupyterhub.service also use (change them there too). tests/test_jupyterhub.py runs this
# script with every folder inside a scratch root, its own PostgreSQL server (NNFS_PG_SOCKET) and uniquely named
# accounts. Settings files are adjusted to a changed path or name as they are installed. systemctl is used only
# with the production unit folder and socket: a scratch run never starts or enables a system service.
set -euo pipefail

COURSE_DIR=${NNFS_COURSE_DIR:-/srv/nnfs/course}
ENV_BIN=${NNFS_ENV_BIN:-/opt/nnfs/venv/bin}
GRADER=${NNFS_GRADER:-nnfs-grader}
DATABASE=${NNFS_DATABASE:-nnfs_gradebook}
EXCHANGE=${NNFS_EXCHANGE:-/srv/nbgrader/exchange}
HUB_STATE=${NNFS_HUB_STATE:-/srv/jupyterhub}
LESSONS=${NNFS_LESSONS:-/srv/nnfs/lessons}
HUB_CONFIG_DIR=${NNFS_HUB_CONFIG_DIR:-/etc/jupyterhub}  # jupyterhub_config.py and the roster
JUPYTER_CONFIG_DIR=${NNFS_JUPYTER_CONFIG_DIR:-/etc/jupyter}  # every account's nbgrader_config.py
PG_SOCKET=${NNFS_PG_SOCKET:-/var/run/postgresql}  # the folder of PostgreSQL's Unix socket
SYSTEMD_DIR=${NNFS_SYSTEMD_DIR:-/etc/systemd/system}
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
as_postgres() { (cd / && runuser -u postgres -- env PGHOST="$PG_SOCKET" "$@"); }
# systemd is asked to start or enable services only for a production install (default unit folder and socket).
use_systemd() {
  [ "$SYSTEMD_DIR" = /etc/systemd/system ] && [ "$PG_SOCKET" = /var/run/postgresql ] &&
    command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]
}
# The shipped settings name the production paths; as installed, they name the ones this run uses.
adjusted() {
  sed -e "s|\"/srv/nbgrader/exchange\"|\"$EXCHANGE\"|" \
      -e "s|nnfs-grader@/nnfs_gradebook?host=/var/run/postgresql|$GRADER@/$DATABASE?host=$PG_SOCKET|" "$1"
}

step "1. system packages"
missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
if use_systemd; then
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
install -d -m 0755 "$JUPYTER_CONFIG_DIR" "$HUB_CONFIG_DIR"
adjusted "$HERE/global_nbgrader_config.py" > "$JUPYTER_CONFIG_DIR/nbgrader_config.py"
chmod 0644 "$JUPYTER_CONFIG_DIR/nbgrader_config.py"
install -m 0644 "$HERE/jupyterhub_config.py" "$HUB_CONFIG_DIR/jupyterhub_config.py"
if [ ! -f "$HUB_CONFIG_DIR/nnfs-roster.txt" ]; then
  # The example with every entry commented out: nobody can log in until the roster is edited.
  sed -E 's/^([a-z])/# \1/' "$HERE/nnfs-roster.example.txt" > "$HUB_CONFIG_DIR/nnfs-roster.txt"
  chmod 0644 "$HUB_CONFIG_DIR/nnfs-roster.txt"
fi
grader_home=$(getent passwd "$GRADER" | cut -d: -f6)
install -d -o "$GRADER" -g "$GRADER" -m 0755 "$grader_home/.jupyter"
install -o "$GRADER" -g "$GRADER" -m 0644 "$HERE/grader_jupyter_server_config.py" \
  "$grader_home/.jupyter/jupyter_server_config.py"
if ! grep -qF "$MARKER" "$COURSE_DIR/nbgrader_config.py"; then
  { echo; adjusted "$HERE/course_settings.py"; } >> "$COURSE_DIR/nbgrader_config.py"
fi
install -d -m 0700 "$HUB_STATE"

step "6. Formgrader and Create Assignment only for $GRADER"
# The server extension is what serves Formgrader's pages and API: off in the environment, on in the grader's
# jupyter_server_config.py (installed in step 5; `jupyter server extension enable --user` cannot turn on what the
# user's own folder never listed). The lab extensions only add menus: JupyterLab locks a plugin it disables,
# which would keep the grader's user-level setting from turning it back on, so they are unlocked again.
"$ENV_BIN/jupyter" server extension disable --sys-prefix nbgrader.server_extensions.formgrader
for plugin in @jupyter/nbgrader:formgrader @jupyter/nbgrader:create-assignment; do
  "$ENV_BIN/jupyter" labextension disable --level=sys_prefix "$plugin"
  "$ENV_BIN/jupyter" labextension unlock --level=sys_prefix "$plugin"
  (cd / && as_grader "$ENV_BIN/jupyter" labextension enable --level=user "$plugin")
done

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
install -D -m 0644 "$HERE/jupyterhub.service" "$SYSTEMD_DIR/jupyterhub.service"
if use_systemd; then
  systemctl daemon-reload
  systemctl enable --now jupyterhub
  echo "JupyterHub runs on port 8000. Add people to /etc/jupyterhub/nnfs-roster.txt, then: systemctl restart jupyterhub"
else
  echo "The hub is not started here (no systemd, or not the production paths): start it, as root, with"
  echo "  cd $HUB_STATE && NNFS_COURSE_DIR=$COURSE_DIR NNFS_ENV_BIN=$ENV_BIN NNFS_GRADER=$GRADER \\"
  echo "    NNFS_ROSTER=$HUB_CONFIG_DIR/nnfs-roster.txt NNFS_HUB_STATE=$HUB_STATE \\"
  echo "    $ENV_BIN/jupyterhub -f $HUB_CONFIG_DIR/jupyterhub_config.py"
fi
