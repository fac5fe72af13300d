from collections.abc import Iterator

import pytest

from tests.faults.servers import PrivatePostgres, PrivateRedis, why_no_postgres, why_no_redis


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    if reason := why_no_redis():
        pytest.skip(reason)
    server = PrivateRedis().start()
    yield server
    server.destroy()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if reason := why_no_postgres():
        pytest.skip(reason)
    server = PrivatePostgres().init()
    yield server
    server.destroy()
