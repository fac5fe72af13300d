import random

import pytest


@pytest.fixture(autouse=True)
def _seeded_random():
    """Leasing shuffles screen orders with `random`; simulations are repeatable when it is
    seeded (the simulated annotators use their own seeded generators)."""
    state = random.getstate()
    random.seed(20261125)
    yield
    random.setstate(state)
