"""Shared test configuration."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ptb_dir():
    """Directory of the Penn Treebank files (NEURO_PTB_DIR or ../shared/data/ptb)."""
    path = Path(os.environ.get("NEURO_PTB_DIR", REPO.parent / "shared" / "data" / "ptb"))
    if not (path / "ptb.train.txt").is_file():
        pytest.skip(f"Penn Treebank files not found in {path}")
    return path
