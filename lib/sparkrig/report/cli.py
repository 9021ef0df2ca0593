"""The `sparkrig report` subcommand: regenerate reports, or merge shards into one run."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands to the `sparkrig` parser."""
