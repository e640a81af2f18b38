from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
T0 = 1_700_000_000.0


@pytest.fixture
def t0() -> float:
    return T0


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test when that folder is absent."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside the developers' checkout)")
    return path
