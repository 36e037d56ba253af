"""A property-based run over the OpenAPI schema (schemathesis): every operation, with generated
parameters and bodies and a read-write token, never answers with a server error (5xx)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from shared.web.app import API_PREFIX
from tests.web.conftest import Api

EXAMPLES_PER_OPERATION = 30


def test_no_operation_answers_with_a_server_error(api: Api) -> None:
    api.client.app.state.settings.broker_folder.mkdir(parents=True)  # type: ignore[attr-defined]  # ready
    schema = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def never_a_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=api.writer, checks=[not_a_server_error])

        never_a_server_error()
