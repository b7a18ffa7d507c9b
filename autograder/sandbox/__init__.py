"""The untrusted side of grading and its boundary: everything that runs student code or talks to it.

* :mod:`.bubblewrap` starts a program in a bubblewrap sandbox (no course files, no network, limits);
* :mod:`.worker` is the program that runs there: the student's cells, and what tests ask of their objects;
* :mod:`.wire` is the only channel between it and the grader: plain data and references, never pickles.

The trusted side that decides scores (:mod:`autograder.runner`, :mod:`autograder.remote`) imports from here; nothing
here imports it. The launcher's names are re-exported, so ``sandbox.Session`` and ``sandbox.run_python`` work.
"""

from .bubblewrap import (NOBODY, SANDBOX_HOME, SANDBOX_UID_BASE, Limits, Result, SandboxUnavailable, Session,
                         bwrap_command, run, run_python, sandbox_uid)

__all__ = ["NOBODY", "SANDBOX_HOME", "SANDBOX_UID_BASE", "Limits", "Result", "SandboxUnavailable", "Session",
           "bwrap_command", "run", "run_python", "sandbox_uid"]
