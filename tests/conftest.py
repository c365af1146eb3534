"""Shared fixtures: paths to bundled data, the sample case, seeded randomness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLE = FIXTURES / "sample_case"
SAMPLE_DATA = [SAMPLE / "trongrid_scam_wallet.json", SAMPLE / "trongrid_downstream.json"]
SAMPLE_LABELS = SAMPLE / "labels.csv"

os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "tracer-numba"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def sample_addresses() -> dict[str, str]:
    return json.loads((SAMPLE / "addresses.json").read_text())


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES
