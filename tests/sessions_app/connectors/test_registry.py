"""The connector registry: building connectors from Source rows and the form field lists."""

from __future__ import annotations

import pytest

from sessions_app.choices import SourceKind
from sessions_app.connectors import CONNECTORS, SETTINGS_FIELDS, ConnectorError, connector_for
from sessions_app.connectors.entra import EntraConnector
from sessions_app.connectors.google import GoogleConnector
from sessions_app.connectors.okta import OktaConnector
from sessions_app.models import Source


def test_connector_for_uses_kind_settings_and_decrypted_secrets(fake_okta):
    source = Source(name="okta", kind=SourceKind.OKTA, settings={"base_url": fake_okta.url})
    source.set_secrets({"api_token": "okta-api-token"})
    connector = connector_for(source)
    assert isinstance(connector, OktaConnector)
    assert "System Log readable" in connector.test_connection()


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        (SourceKind.OKTA, OktaConnector),
        (SourceKind.ENTRA, EntraConnector),
        (SourceKind.GOOGLE, GoogleConnector),
    ],
)
def test_every_pulled_kind_has_a_connector_and_fields(kind, cls):
    assert CONNECTORS[kind] is cls
    fields = SETTINGS_FIELDS[kind]
    names = [f.name for f in fields]
    assert len(names) == len(set(names))
    assert any(f.secret for f in fields)
    assert all(
        f.label and f.kind in {"str", "url", "int", "float", "bool", "choice", "choices", "text"}
        for f in fields
    )
    assert set(SourceKind.pulled()) == set(SETTINGS_FIELDS)


def test_missing_required_settings_name_the_field():
    source = Source(name="g", kind=SourceKind.GOOGLE, settings={})
    with pytest.raises(ConnectorError) as caught:
        connector_for(source)
    assert caught.value.kind == "config"
    assert "admin_email" in str(caught.value)


def test_push_kinds_have_no_connector():
    with pytest.raises(ConnectorError) as caught:
        connector_for(Source(name="w", kind=SourceKind.WEBHOOK))
    assert caught.value.kind == "config"
