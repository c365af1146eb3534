"""Shared fixtures: paths to bundled data, the sample case, seeded randomness."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SAMPLE = FIXTURES / "sample_case"
SAMPLE_DATA = [SAMPLE / "trongrid_scam_wallet.json", SAMPLE / "trongrid_downstream.json"]
SAMPLE_LABELS = SAMPLE / "labels.csv"

# numba's cache folder: as for a user (tracer.kernels picks it, keyed by the kernel sources)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def sample_addresses() -> dict[str, str]:
    return json.loads((SAMPLE / "addresses.json").read_text())


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


USDT_ETH = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def write_canonical_csv(path: Path, values: list[int]) -> Path:
    """A canonical-column CSV with one USDT transfer per raw ``value`` (distinct tx hashes)."""
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    for i, v in enumerate(values):
        lines.append(
            f"0x{i + 10:064x},0x{'1' * 40},0x{'2' * 40},{v},2024-01-01T00:00:00Z,"
            f"{USDT_ETH},0,ethereum"
        )
    path.write_text("\n".join(lines) + "\n")
    return path
