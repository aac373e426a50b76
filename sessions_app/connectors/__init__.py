"""HTTP pull connectors and their registry.

Use ``connector_for(source)`` to build the connector for a ``Source``, and
``SETTINGS_FIELDS[kind]`` to render the source form (which settings and secrets a kind needs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessions_app.choices import SourceKind

from . import entra, google, okta
from .base import Connector, ConnectorError, HttpConnector, Page, SettingField

if TYPE_CHECKING:
    from sessions_app.models import Source

CONNECTORS: dict[str, type[HttpConnector]] = {
    SourceKind.OKTA: okta.OktaConnector,
    SourceKind.ENTRA: entra.EntraConnector,
    SourceKind.GOOGLE: google.GoogleConnector,
}

SETTINGS_FIELDS: dict[str, list[SettingField]] = {
    SourceKind.OKTA: okta.SETTINGS_FIELDS,
    SourceKind.ENTRA: entra.SETTINGS_FIELDS,
    SourceKind.GOOGLE: google.SETTINGS_FIELDS,
}


def connector_for(source: Source, **kwargs) -> Connector:
    """Build the connector for a pulled source from its kind, settings and decrypted secrets.

    Raises ``ConnectorError(kind="config")`` when the kind is not pulled or a setting or
    secret is missing or invalid. ``kwargs`` (``http``, ``now``, ``sleep``) go to the
    connector, for tests.
    """
    cls = CONNECTORS.get(source.kind)
    if cls is None:
        raise ConnectorError(
            f"Sources of kind {source.kind!r} are not polled; nothing to connect to.",
            kind="config",
        )
    return cls(settings=source.settings or {}, secrets=source.get_secrets(), **kwargs)


__all__ = [
    "CONNECTORS",
    "SETTINGS_FIELDS",
    "Connector",
    "ConnectorError",
    "Page",
    "SettingField",
    "connector_for",
]
