"""The error the CLI's subcommands raise for input the user must correct (exit code 2)."""

from __future__ import annotations


class UsageError(Exception):
    """Bad command-line input, explained in one line."""
