"""The provider adapter for a source, by kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessions_app.choices import SourceKind
from sessions_app.connectors.base import ConnectorError

from .base import ProviderError, RevocationProvider
from .entra import EntraProvider
from .google import GoogleProvider
from .okta import OktaProvider
from .webhook import WebhookProvider

if TYPE_CHECKING:
    from sessions_app.models import Source

PROVIDERS: dict[str, type[RevocationProvider]] = {
    SourceKind.OKTA: OktaProvider,
    SourceKind.ENTRA: EntraProvider,
    SourceKind.GOOGLE: GoogleProvider,
    SourceKind.WEBHOOK: WebhookProvider,
    SourceKind.FILE: WebhookProvider,
}


def provider_for(source: Source, **kwargs) -> RevocationProvider:
    """Build the adapter for ``source``; raises ``ProviderError`` with a message for people."""
    cls = PROVIDERS.get(source.kind)
    if cls is None:
        raise ProviderError(f"no revocation adapter for sources of kind {source.kind!r}.")
    try:
        return cls(settings=source.settings or {}, secrets=source.get_secrets(), **kwargs)
    except ConnectorError as exc:
        raise ProviderError(str(exc)) from None
