"""The student edition of the course: everything a student needs, nothing an instructor keeps."""

from __future__ import annotations


def add_commands(commands) -> None:
    """Add this module's subcommands to the ``autograder`` command line (``commands``: argparse subparsers)."""
