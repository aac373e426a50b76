"""The OpenAPI document validates, its UIs are served without a CDN, and a bounded
property-based run (schemathesis) over every operation, through the WSGI app with a real
token, finds no server error and no response that contradicts the document."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.alerts_app.revocation_helpers import alert_on, identity_at, session_of

EXAMPLES_PER_OPERATION = 8


def test_openapi_document_validates():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    paths = set(schema["paths"])
    assert {
        "/api/v1/alerts/",
        "/api/v1/alerts/{id}/",
        "/api/v1/alerts/{id}/assign/",
        "/api/v1/alerts/{id}/transition/",
        "/api/v1/alerts/{id}/comment/",
        "/api/v1/revocations/",
        "/api/v1/revocations/{id}/",
        "/api/v1/revocations/{id}/approve/",
    } <= paths
    assert schema["components"]["securitySchemes"]["tokenAuth"]["in"] == "header"
    filters = {p["name"] for p in schema["paths"]["/api/v1/alerts/"]["get"]["parameters"]}
    assert {"status", "severity", "stage", "assignee", "control", "q"} <= filters


def test_schema_and_docs_are_served_without_a_cdn(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "govern API"
    for url in ("/api/schema/swagger/", "/api/schema/redoc/"):
        html = client.get(url).content.decode()
        assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html


@contextmanager
def _keep_test_transaction():
    """Run WSGI requests in-process without Django closing the test's connection after each
    (the test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
def test_property_based_run_finds_no_server_errors(admin_user, settings):
    settings.GOVERN_API_RATE = "100000/min"
    source = identity_source()
    identity = identity_at(source, tier="privileged")
    alert_on(session_of(identity, source))
    token = Token.objects.create(user=admin_user).key
    headers = {"Authorization": f"Token {token}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    with _keep_test_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 9
        for operation in operations:

            @given(case=operation.as_strategy())
            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=checks)

            run()


def identity_source():
    from sessions_app.models import Source

    source = Source(name="okta-prod", kind="okta", settings={"base_url": "https://acme.okta.test"})
    source.set_secrets({"api_token": "t"})
    source.save()
    return source
