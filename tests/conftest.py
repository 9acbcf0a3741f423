"""Shared test setup: float64 loss on (as in every run), strict rank promotion, a tiny config."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

from tests import tiny as tiny_module  # noqa: E402

TINY = "tests/tiny.py"


def tiny_config():
    """The one shared tiny config (tests/tiny.py), locked like a loaded config."""
    c = tiny_module.get_config()
    c.lock()
    return c


@pytest.fixture
def tiny():
    return tiny_config()
