from __future__ import annotations

import pytest
from helpers.steps import Chain, run_chain


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> Chain:
    """The steps run one after another on one small clip (see helpers.steps)."""
    return run_chain(tmp_path_factory.mktemp("steps"))
