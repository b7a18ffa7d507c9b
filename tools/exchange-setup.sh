#!/usr/bin/env bash
# Prepares nbgrader's exchange for the course on a machine whose students have Unix accounts (see "Release and
# collect through the exchange" in README.md). Run it as root; it can be run again, e.g. to add students:
#
#   tools/exchange-setup.sh EXCHANGE INSTRUCTOR COURSE_DIR [STUDENT ...]
#
#   EXCHANGE    the exchange folder, e.g. /srv/nbgrader/exchange (the instructor sets NBGRADER_EXCHANGE to it)
#   INSTRUCTOR  the account that releases, collects and grades; it gets COURSE_DIR
#   COURSE_DIR  the course folder (nbgrader_config.py, source/, assignments/, later the gradebook)
#   STUDENT     student accounts: their home folders are closed to other accounts and they get the course's
#               nbgrader settings (tools/student_nbgrader_config.py) as ~/.jupyter/nbgrader_config.py
#
# What it sets, and why (nbgrader's own choice in brackets):
#   EXCHANGE                root:root 1777 [0777 when nbgrader creates it, and release_assignment changes any
#                           other mode back to 0777]: without the sticky bit any account can rename the
#                           course's folder and put its own in its place, collecting everyone's submissions
#   EXCHANGE/<course>       INSTRUCTOR 0755, made now so that no student can make it first
#     outbound/             INSTRUCTOR 0755: released assignments, readable by everyone
#     inbound/              INSTRUCTOR 3733 [2733]: students can add submissions but not list them; the sticky
#                           bit keeps them from renaming or deleting each other's
#     feedback/             INSTRUCTOR 0711: feedback files are found only by name
#   COURSE_DIR              INSTRUCTOR 0700 [0755 under the usual umask 022]: it holds the hidden tests, the
#                           solutions, the gradebook and every submission
#   student homes           0700 [Debian's useradd makes them 0755]: they hold each student's work, their copy of
#                           each submission and the secret that names their feedback in the exchange
# Students must not be members of the instructor's group (it is the group that may read submissions).
set -euo pipefail

fail() { echo "exchange-setup.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run this as root (it sets owners and permissions of other accounts' folders)."
[ $# -ge 3 ] || fail "usage: $0 EXCHANGE INSTRUCTOR COURSE_DIR [STUDENT ...]"
EXCHANGE=$1; INSTRUCTOR=$2; COURSE_DIR=$3; shift 3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

id -u "$INSTRUCTOR" >/dev/null 2>&1 || fail "no account $INSTRUCTOR"
[ -f "$COURSE_DIR/nbgrader_config.py" ] || fail "no course at $COURSE_DIR (expected its nbgrader_config.py)"
COURSE_ID=$(sed -n 's/^c\.CourseDirectory\.course_id *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$COURSE_DIR/nbgrader_config.py")
[ -n "$COURSE_ID" ] || fail "$COURSE_DIR/nbgrader_config.py sets no literal c.CourseDirectory.course_id"
case "$EXCHANGE" in /*) ;; *) fail "EXCHANGE must be an absolute path" ;; esac
GROUP=$(id -gn "$INSTRUCTOR")

folder() {  # folder OWNER MODE PATH: create PATH (or fix it) with that owner and mode
  mkdir -p "$3"
  # Checked after mkdir: an entry made by root or the instructor cannot be swapped by a student (sticky bit).
  [ ! -L "$3" ] || fail "$3 is a symbolic link: remove it and run this again"
  local owner
  owner=$(stat -c %U "$3")
  [ "$owner" = root ] || [ "$owner" = "$INSTRUCTOR" ] || \
    fail "$3 belongs to $owner, not to root or $INSTRUCTOR: remove it and run this again"
  chown -h "$1" "$3"
  chmod "$2" "$3"
}

folder root:root 1777 "$EXCHANGE"
folder "$INSTRUCTOR:$GROUP" 0755 "$EXCHANGE/$COURSE_ID"
folder "$INSTRUCTOR:$GROUP" 0755 "$EXCHANGE/$COURSE_ID/outbound"
folder "$INSTRUCTOR:$GROUP" 3733 "$EXCHANGE/$COURSE_ID/inbound"
folder "$INSTRUCTOR:$GROUP" 0711 "$EXCHANGE/$COURSE_ID/feedback"

chown -R "$INSTRUCTOR:$GROUP" "$COURSE_DIR"
chmod 0700 "$COURSE_DIR"

for student in "$@"; do
  id -u "$student" >/dev/null 2>&1 || fail "no account $student"
  [ "$student" != "$INSTRUCTOR" ] || fail "$student is the instructor"
  if id -nG "$student" | tr ' ' '\n' | grep -qxF "$GROUP"; then
    fail "$student is in the group $GROUP, which may read every submission: remove them from it"
  fi
  home=$(getent passwd "$student" | cut -d: -f6)
  [ -d "$home" ] || fail "$student has no home folder ($home)"
  chmod 0700 "$home"
  # Written as the student (root writing into a folder the student controls could be sent elsewhere by a link).
  sed -e "s|@COURSE_ID@|$COURSE_ID|" -e "s|@EXCHANGE_ROOT@|$EXCHANGE|" "$HERE/student_nbgrader_config.py" |
    (cd / && runuser -u "$student" -- sh -c 'umask 022 && mkdir -p "$1/.jupyter" &&
      cat > "$1/.jupyter/nbgrader_config.py.new" && mv -f "$1/.jupyter/nbgrader_config.py.new" "$1/.jupyter/nbgrader_config.py"' \
      sh "$home")
done

echo "Exchange $EXCHANGE is ready for course $COURSE_ID."
echo "As $INSTRUCTOR, in $COURSE_DIR, set NBGRADER_EXCHANGE=$EXCHANGE before running nbgrader or autograder."
