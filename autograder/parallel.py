"""Grading many notebooks at once: one forked grader process per notebook, a few at a time, with progress.

Each job runs in a fresh child process (forked, so NumPy and the checks are already imported), which starts its
own sandbox for the student's code. Results come back to the parent, the only process that writes files and
the gradebook, as soon as each job ends. A child that crashes or overruns its time becomes a failed result
naming the reason; the others go on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from .runner import Limits, SubmissionResult, grade_notebook, ungraded_parts


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str
    submitted: str
    source: str
    released: str
    release_folder: str | None
    limits: Limits
    recorded: dict | None = None  # grade id -> test and locked cell source as the gradebook recorded it


def _child(job: Job, connection) -> None:
    try:
        result = grade_notebook(job.student, job.assignment, Path(job.submitted), Path(job.source),
                                Path(job.released), job.limits, Path(job.release_folder) if job.release_folder else None,
                                job.recorded)
        connection.send(("result", result))
    except BaseException as error:  # the grader's own failure: reported, never silently dropped
        connection.send(("error", f"{type(error).__name__}: {error}", traceback.format_exc()[-2000:]))
    finally:
        connection.close()


def failed_result(job: Job, reason: str) -> SubmissionResult:
    """Every test of the notebook at zero, with the reason (the grader could not finish this job)."""
    import nbformat

    result = SubmissionResult(job.student, job.assignment, os.path.splitext(os.path.basename(job.source))[0])
    result.tests = ungraded_parts(nbformat.read(job.source, as_version=4), f"Not graded: {reason}.", reason,
                                  task_message=f"Not graded automatically: {reason}.")
    result.problems.append(reason)
    return result


class Progress:
    """One status line on stderr: rewritten in place on a terminal, printed now and then otherwise."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream=None):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.done = 0
        self.running = 0
        self.last_print = 0.0
        self.terminal = hasattr(self.stream, "isatty") and self.stream.isatty()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        text = f"{self.label}: {self.done}/{self.total} graded, {self.running} running, {_clock(elapsed)} elapsed"
        if self.done:
            left = elapsed / self.done * (self.total - self.done)
            text += f", about {_clock(left)} left"
        return text

    def update(self, done: int, running: int, force: bool = False) -> None:
        self.done, self.running = done, running
        if not self.enabled:
            return
        now = time.monotonic()
        if self.terminal:
            if force or now - self.last_print > 0.25:
                self.stream.write("\r" + self.line().ljust(90)[:120])
                self.stream.flush()
                self.last_print = now
        elif now - self.last_print > 10 or done == self.total:  # a log, not a screen: a line now and then
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self.last_print = now

    def close(self) -> None:
        if self.enabled and self.terminal:
            self.stream.write("\r" + self.line().ljust(90)[:120] + "\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def run(jobs: list[Job], workers: int, on_result, progress: Progress | None = None,
        overrun_seconds: float = 120.0) -> None:
    """Grade every job with at most ``workers`` children; ``on_result(job, result)`` runs in this process."""
    context = multiprocessing.get_context("fork")
    pending = list(jobs)
    running: dict = {}  # connection -> (job, process, started)
    finished = 0
    try:
        while pending or running:
            while pending and len(running) < max(1, workers):
                job = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                sys.stdout.flush()
                sys.stderr.flush()
                process = context.Process(target=_child, args=(job, sender), daemon=True)
                process.start()
                sender.close()
                running[receiver] = (job, process, time.monotonic())
            if progress:
                progress.update(finished, len(running))
            for connection in wait(list(running), timeout=0.5):
                job, process, _ = running.pop(connection)
                try:
                    message = connection.recv()
                except (EOFError, OSError):
                    message = None
                connection.close()
                process.join(5)
                if message is None:
                    result = failed_result(job, f"the grader process for this notebook stopped "
                                                f"(exit status {process.exitcode})")
                elif message[0] == "result":
                    result = message[1]
                else:
                    result = failed_result(job, f"the grader failed on this notebook ({message[1]})")
                    result.problems.append(message[2])
                finished += 1
                on_result(job, result)
                if progress:
                    progress.update(finished, len(running), force=True)
            limit = time.monotonic() - overrun_seconds
            for connection, (job, process, started) in list(running.items()):
                if started + job.limits.notebook_seconds < limit:
                    process.kill()  # the sandbox dies with it (bubblewrap's --die-with-parent)
                    process.join()
                    running.pop(connection)
                    connection.close()
                    finished += 1
                    on_result(job, failed_result(job, "grading took far longer than the notebook's time limit"))
    finally:
        for connection, (job, process, started) in running.items():
            process.kill()
            process.join()
        if progress:
            progress.close()
