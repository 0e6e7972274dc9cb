"""Shared fixtures: the repository root and a runner for the Node helper scripts under tests/node."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))


def run_node(script: str, *args: str, timeout: int = 300) -> str:
    """Runs python/tests/node/<script> with tsx from the repository root; fails the test with its output on error."""
    cmd = ["node", "--conditions=source", "--import", "tsx", os.path.join("python", "tests", "node", script), *args]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


@pytest.fixture(scope="session")
def root():
    return ROOT
