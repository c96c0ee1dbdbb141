"""Shared set-up for the interop tests: where the example servers are."""

import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def example(name: str) -> str:
    """Path of a built example binary (scripts/test builds them first)."""
    base = pathlib.Path(os.environ.get("MCP_EXAMPLES_DIR", ROOT / "target" / "debug" / "examples"))
    path = base / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build the examples first (scripts/test does)")
    return str(path)
