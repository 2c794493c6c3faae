from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventlog import EmbeddedStore, open_embedded


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with open_embedded(tmp_path / "store") as store:
        yield store
