"""schemathesis against /api/v1/schema/: generated requests to every operation, valid and
invalid, never get a 5xx, and every answer matches what the schema says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.services import api_token_create

app = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", app)


@pytest.fixture
def token(campaign, carol) -> Iterator[str]:
    # The WSGI app is called directly (not through Django's test client), so its request
    # signals would close the database connection that holds the test's transaction; they
    # are held off here as the test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        # carol administers the campaign (imports, exports) and may also annotate in it.
        yield api_token_create(user=carol)[1]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_matches_its_schema_and_never_fails(case, token):
    # What the issue asks, and no more: no 5xx, and the status, content type, headers and
    # body of every answer as documented. (schemathesis's positive_data_acceptance and
    # negative_data_rejection also expect a 2xx for any schema-valid id, which a made-up
    # campaign id cannot give, and a 4xx for every value the schema does not constrain.)
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
