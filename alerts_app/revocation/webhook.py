"""A generic signed webhook for anything without a built-in adapter.

govern POSTs JSON to the source's ``revocation_url`` with an ``Idempotency-Key`` header and
``X-Govern-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` keyed with the
source's ``revocation_secret`` — the same scheme govern's own webhook receiver verifies
(``sessions_app.webhooks.sign``). The receiver answers 2xx once the session or credential is
dead; 429/5xx are retried, any other status fails the call. Receivers should treat a repeated
idempotency key as success.
"""

from __future__ import annotations

import json

from sessions_app.connectors.base import ConnectorError, HttpConnector
from sessions_app.webhooks import sign

from .base import (
    CallResult,
    Plan,
    ProviderError,
    RevocationProvider,
    result_from_error,
    result_from_response,
    retry_after_of,
)

GRACE_SECONDS = 5 * 60
ACTIONS = {
    "session": "revoke_session",
    "identity_all": "revoke_all_sessions",
    "credential": "revoke_credential",
}


class _WebhookClient(HttpConnector):
    vendor = "Revocation webhook"

    def _configure(self) -> None:
        self.url = self._url("revocation_url", required=True)
        self.secret = self._secret("revocation_secret")
        self.grace = self._int("revocation_grace_seconds", GRACE_SECONDS, minimum=0, maximum=86400)


class WebhookProvider(RevocationProvider):
    name = "webhook"

    def __init__(self, *, settings: dict, secrets: dict, **kwargs) -> None:
        if not (settings or {}).get("revocation_url"):
            raise ProviderError(
                "this source has no revocation webhook: set 'revocation_url' and the "
                "'revocation_secret' secret on the source."
            )
        self.client = _WebhookClient(settings=settings, secrets=secrets, **kwargs)

    def plan(self, *, scope: str, provider_user_id: str, session_key: str, token_kind: str) -> Plan:
        per_session = scope in ("session", "credential") and bool(session_key)
        what = "token" if scope == "credential" else "session"
        return Plan(
            action=f"webhook.{ACTIONS[scope]}",
            method="POST",
            path="",
            provider_user_id=provider_user_id,
            provider_session_id=session_key if per_session else "",
            user_wide=not per_session,
            revokes=(
                (f"this {what}, as the receiving system implements it",)
                if per_session
                else ("every session of the identity, as the receiving system implements it",)
            ),
            survives=("whatever the receiving system does not revoke; check its documentation",),
            grace_seconds=self.client.grace,
        )

    def call(self, plan: Plan, *, idempotency_key: str) -> CallResult:
        client = self.client
        body = json.dumps(
            {
                "idempotency_key": idempotency_key,
                "action": plan.action.removeprefix("webhook."),
                "user_id": plan.provider_user_id,
                "session_id": plan.provider_session_id or None,
            },
            sort_keys=True,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-Govern-Signature": sign(client.secret, body),
        }
        try:
            response = client.http.request(
                "POST",
                client.url,
                data=body,
                headers=headers,
                timeout=client.timeout,
                allow_redirects=False,
            )
        except Exception as exc:  # requests' transport errors: timeouts, refused connections
            error = ConnectorError(
                f"Revocation webhook: {type(exc).__name__} calling {client.url}", kind="network"
            )
            return result_from_error(error, method="POST", url=client.url)
        return result_from_response(response, retry_after=retry_after_of(response, client.now()))
