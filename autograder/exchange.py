"""nbgrader exchange classes for a course whose students share one Linux machine.

nbgrader's own exchange trusts what it finds in the inbound folder. Any account can write there, so:

- ``nbgrader submit --student=<someone else>`` makes a folder named after another student, and nbgrader's
  collect takes the newest folder per name, only warning that the owner differs;
- a student can put a symbolic link in their own submission folder, and collect, running as the instructor,
  copies whatever the link points to (the instructor notebooks, the gradebook, any file the instructor reads)
  into that student's submission, where grading and feedback show it to them;
- a malformed folder name stops collect for everyone;
- the submission time that grading reads (timestamp.txt) is written by the student into their own folder: they
  can change or delete it afterwards, and late work then counts as on time.

:class:`CheckedCollect` (the course's ``c.ExchangeFactory.collect``) collects only what a student handed in as
themselves: a real folder made by the account it names, holding only files and folders, from a student in the
roster. Every other entry is left in the exchange and named in a warning saying why it was not collected. A
submission whose timestamp.txt is missing, or claims a time well before its files last changed (a change time,
which no user can set back), is collected with that change time instead, and a warning says so.

nbgrader's submit makes each submission readable by every account and its folder writable by every account,
and release_feedback makes each feedback file readable by every account: only their names, which other students
cannot list, keep them out.

- :class:`PrivateSubmit` (the students' ``c.ExchangeFactory.submit``, see tools/student_nbgrader_config.py)
  gives the submission to its owner and the instructors' group (the group of the inbound folder, which nbgrader
  makes set-group-id), and closes the student's local copy of it, which holds the secret that names their
  feedback, to everyone else. It refuses ``--student`` with another account's name, with a message.
- :class:`PrivateReleaseFeedback` (the course's ``c.ExchangeFactory.release_feedback``) lets only the
  student's own account read their feedback file (a POSIX ACL).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import stat
import struct
from collections import defaultdict
from pathlib import Path

from datetime import datetime, timezone

from traitlets import Bool, Float

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import check_mode, get_username, ignore_patterns, notebook_hash, parse_utc

# A submission readable only by its owner and the instructors' group, who can delete it later (nbgrader makes
# its folder 0777 for that).
PRIVATE_FILE = 0o640
PRIVATE_FOLDER = 0o770


class Refused(Exception):
    """A submission that is not collected; the message says why."""


class CheckedCollect(ExchangeCollect):
    """nbgrader's collect, for the submissions a student made as themselves, copied without following links."""

    require_roster = Bool(
        True,
        help="Collect only students listed in the gradebook (nbgrader db student add / import). Submissions of "
             "anyone else stay in the exchange and are named in a warning.",
    ).tag(config=True)

    timestamp_slack = Float(
        120.0,
        help="Seconds by which a submission's timestamp.txt may precede the last change of its files (the time "
             "nbgrader's submit takes to copy them) before the change time is recorded instead.",
    ).tag(config=True)

    def _roster(self) -> set[str] | None:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
            return {student.id for student in gradebook.students} if self.require_roster else None

    def _refuse(self, message: str) -> None:
        self.refused.append(message)
        self.log.warning("Not collected: %s", message)

    def _record(self, path: str, roster: set[str] | None) -> dict:
        """The submission at ``path`` as nbgrader's collect describes it, or :class:`Refused`."""
        from .grading import STUDENT_ID

        name = os.path.basename(path)
        where = f"inbound/{name}"
        parts = name.rsplit("+", 3)
        try:
            if len(parts) < 3 or parts[1] != self.coursedir.assignment_id:
                raise ValueError(name)
            timestamp = parse_utc(parts[2])
        except (ValueError, OverflowError, TypeError):
            raise Refused(f"{where}: not a submission folder name (<student>+<assignment>+<time>+<random>)") \
                from None
        student = parts[0]
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
            raise Refused(f"{where} (in the name of {student}) is {kind}; a submission is a folder")
        if not STUDENT_ID.match(student):
            raise Refused(f"{where}: {student!r} is not a usable student id")
        if self.check_owner:
            try:
                owner = pwd.getpwuid(info.st_uid).pw_name
            except KeyError:
                owner = f"uid {info.st_uid}"
            if owner != student:
                raise Refused(f"{where} claims to be from {student} but was made by {owner}")
        if roster is not None and student not in roster:
            hint = "" if roster else " (the gradebook lists no students yet)"
            raise Refused(f"{student} submitted {self.coursedir.assignment_id} ({where}) but is not in the course "
                          f"roster{hint}; if they take the course, add them with `nbgrader db student add "
                          f"{student}` and collect again")
        changed = info.st_ctime
        for folder, folders, files in os.walk(path):
            for entry in folders + files:
                full = os.path.join(folder, entry)
                entry_info = os.lstat(full)
                mode = entry_info.st_mode
                changed = max(changed, entry_info.st_ctime)
                relative = os.path.relpath(full, path)
                if stat.S_ISLNK(mode):
                    raise Refused(f"{student}'s submission {where} holds {relative}, a symbolic link; a submission "
                                  "may hold only files and folders")
                if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                    raise Refused(f"{student}'s submission {where} holds {relative}, which is not a file")
                if not os.access(full, os.R_OK | (os.X_OK if stat.S_ISDIR(mode) else 0)):
                    raise Refused(f"{student}'s submission {where} holds {relative}, which this account cannot "
                                  "read")
        self._check_time(where, os.path.join(path, "timestamp.txt"), changed)
        return {"username": student, "filename": name, "timestamp": timestamp}

    def _check_time(self, where: str, timestamp_file: str, changed: float) -> None:
        """Note the change time for a submission whose own time is missing or earlier than its files allow."""
        try:
            with open(timestamp_file, encoding="utf-8") as handle:
                claimed = parse_utc(handle.read().strip())
        except (OSError, ValueError, OverflowError, TypeError):
            claimed = None
        latest = datetime.fromtimestamp(changed, timezone.utc)
        if claimed is not None and (latest.replace(tzinfo=None) - claimed).total_seconds() <= self.timestamp_slack:
            return
        recorded = latest.strftime(self.timestamp_format)
        said = "has no readable timestamp.txt" if claimed is None else \
            f"claims to be from {claimed} UTC but its files last changed at {recorded}"
        self.log.warning("%s %s: it is collected as submitted at %s", where, said, recorded)
        self.corrected[os.path.basename(os.path.dirname(timestamp_file))] = recorded

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        self.refused: list[str] = []
        self.corrected: dict[str, str] = {}  # folder name -> the time recorded for it
        roster = self._roster()
        student = self.coursedir.student_id or "*"
        pattern = os.path.join(glob.escape(self.inbound_path), f"{student}+{self.coursedir.assignment_id}+*")
        by_student = defaultdict(list)
        for path in sorted(glob.glob(pattern)):
            try:
                record = self._record(path, roster)
            except Refused as refusal:
                self._refuse(str(refusal))
                continue
            except (OSError, RecursionError) as error:  # changed while being checked, or nested without end
                self._refuse(f"inbound/{os.path.basename(path)} could not be checked: {error}")
                continue
            by_student[record["username"]].append(record)
        # As nbgrader: the newest submission, or with --before-duedate the newest one made before the due date.
        self.src_records = []
        for records in by_student.values():
            records.sort(key=lambda item: item["timestamp"], reverse=True)
            if self.duedate is not None and self.before_duedate:
                on_time = [r for r in records if r["timestamp"] <= self.duedate]
                records = on_time or records
            self.src_records.append(records[0])

    def do_copy(self, src, dest, log=None):
        """Copy a submission without following links (one swapped in after the checks stops the copy)."""
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)
        budget = [1000 * self.coursedir.max_dir_size]
        student = os.path.basename(os.path.dirname(dest))
        try:
            top = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                self._copy_folder(top, src, dest, ignore, budget)
            finally:
                os.close(top)
            if os.path.basename(src) in self.corrected:
                with open(os.path.join(dest, "timestamp.txt"), "w", encoding="utf-8") as handle:
                    handle.write(self.corrected[os.path.basename(src)])
        except (OSError, RecursionError, Refused) as error:
            shutil.rmtree(dest, ignore_errors=True)
            self._refuse(f"{student}'s submission {os.path.basename(src)} could not be copied safely: {error}")

    def _copy_folder(self, folder_fd: int, src: str, dest: str, ignore, budget: list[int]) -> None:
        os.makedirs(dest)
        names = sorted(os.listdir(folder_fd))
        skipped = set(ignore(src, names))
        for name in names:
            if name in skipped:
                continue
            info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder_fd)
                try:
                    self._copy_folder(child, os.path.join(src, name), os.path.join(dest, name), ignore, budget)
                finally:
                    os.close(child)
                continue
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{os.path.join(src, name)} is not a file")
            handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
            with os.fdopen(handle, "rb") as source:
                if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                    raise Refused(f"{os.path.join(src, name)} is not a file")
                with open(os.path.join(dest, name), "xb") as target:
                    while block := source.read(1 << 20):
                        budget[0] -= len(block)
                        if budget[0] < 0:
                            raise Refused("the submission is larger than CourseDirectory.max_dir_size")
                        target.write(block)

    def copy_files(self):
        super().copy_files()
        if self.refused:
            self.log.warning("%d submission(s) of %s were not collected (see the warnings above); they are still "
                             "in %s", len(self.refused), self.coursedir.assignment_id, self.inbound_path)


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, leaving the submission readable only by its owner and the instructors' group, and only
    ever under its owner's name."""

    def init_dest(self):
        # nbgrader's --student lets anyone hand in under any name; the course's collect would refuse it later
        # (CheckedCollect), but the student who typed it deserves to hear now, before anything is copied.
        claimed, account = self.coursedir.student_id, get_username()
        if claimed not in ("*", account):
            self.fail(f"Not submitted: you are logged in as {account}, and work can only be handed in under your own "
                      f"name, not as {claimed}. Submit again without --student.")
        super().init_dest()

    def _private(self) -> bool:
        """Can the instructors still read a private submission (it takes the set-group-id inbound's group)?"""
        inbound = os.stat(self.inbound_path)
        if not inbound.st_mode & stat.S_ISGID:
            self.log.warning("%s is not set-group-id: the submission keeps nbgrader's permissions (readable by "
                             "every account that knows its name)", self.inbound_path)
            return False
        return True

    def _in_inbound(self, path: str) -> bool:
        return os.path.dirname(os.path.realpath(path)) == os.path.realpath(self.inbound_path)

    def do_copy(self, src, dest, log=None):
        """Into the inbound: folders made, never chmod-ed, so that all of it takes the inbound's group.

        (nbgrader's copytree gives the folder the mode of the student's, without set-group-id, so the files
        written next, timestamp.txt and submission_secret.txt, would get the student's own group.)
        """
        if not self._in_inbound(dest):
            return super().do_copy(src, dest, log)
        size = self.get_size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            self.log.error("Directory size is too big")
            raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is "
                               f"{1000 * self.coursedir.max_dir_size}")
        ignore = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                 max_file_size=self.coursedir.max_file_size, log=self.log)

        def copy(source: str, target: str) -> None:
            os.mkdir(target)  # inside a set-group-id folder it takes that folder's group, and the bit
            names = os.listdir(source)
            skipped = set(ignore(source, names))
            for name in sorted(set(names) - skipped):
                path = os.path.join(source, name)
                if os.path.isdir(path):  # like nbgrader's copytree, links in the student's own folder are followed
                    copy(path, os.path.join(target, name))
                else:
                    shutil.copyfile(path, os.path.join(target, name))
        copy(src, dest)

    def set_perms(self, dest, fileperms, dirperms):
        inbound = os.path.realpath(self.inbound_path)
        if self._in_inbound(dest) and self._private():
            group = os.stat(inbound).st_gid
            for folder, _, files in os.walk(dest):
                for path in [folder] + [os.path.join(folder, f) for f in files]:
                    if os.lstat(path).st_gid != group:
                        self.log.warning("%s does not belong to the group of %s: the submission keeps nbgrader's "
                                         "permissions", path, inbound)
                        return super().set_perms(dest, fileperms, dirperms)
            fileperms, dirperms = PRIVATE_FILE, PRIVATE_FOLDER
            self._made_private = True
        return super().set_perms(dest, fileperms, dirperms)

    def copy_files(self):
        self._made_private = False
        super().copy_files()
        if self._made_private:
            os.chmod(os.path.join(self.inbound_path, self.assignment_filename), PRIVATE_FOLDER)
        # The local copy holds the submission and the secret that names its feedback in the exchange.
        os.chmod(self.cache_path, stat.S_IRWXU)


def _readable_only_by(path: str, uid: int) -> None:
    """Owner read-write, the account ``uid`` read-only, nobody else anything (a POSIX access ACL)."""
    undefined = 0xFFFFFFFF
    user_obj, user, group_obj, mask, other = 0x01, 0x02, 0x04, 0x10, 0x20
    entries = [(user_obj, 6, undefined), (user, 4, uid), (group_obj, 0, undefined), (mask, 4, undefined),
               (other, 0, undefined)]
    os.setxattr(path, "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries))


class PrivateReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, then each feedback file readable only by the account of its student."""

    def copy_files(self):
        super().copy_files()
        excluded = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        for html in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            folder = Path(html).parent
            student = folder.parent.name  # feedback/<student>/<assignment>/<notebook>.html
            secret_file = folder / "submission_secret.txt"
            if student in excluded or not secret_file.is_file():
                continue
            released = os.path.join(self.dest_path, notebook_hash(secret=secret_file.read_text(),
                                                                  notebook_id=Path(html).stem) + ".html")
            if not os.path.isfile(released):
                continue
            try:
                _readable_only_by(released, pwd.getpwnam(student).pw_uid)
            except KeyError:
                self.log.warning("No account is named %s: %s stays readable by every account that knows its "
                                 "name", student, released)
            except OSError as error:
                self.log.warning("Could not close %s to other accounts (%s): it stays readable by every account "
                                 "that knows its name", released, error.strerror)
