"""Moving submissions and grades between a learning-management system and the course folder."""

from __future__ import annotations


def add_commands(commands) -> None:
    """Add this module's subcommands to the ``autograder`` command line (``commands``: argparse subparsers)."""
