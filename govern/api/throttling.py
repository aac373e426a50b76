"""Rate limiting per API token (GOVERN_API_RATE, counted in the configured cache)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token; requests without a valid token share a bucket per client IP.

    Keyed by the token key rather than the user so that a user's scripts with separate tokens
    do not starve each other, and a leaked token cannot exhaust its owner's other tokens.
    """

    scope = "token"

    def get_rate(self) -> str:
        # Read per request (not at import, as DRF does) so GOVERN_API_RATE is the one knob.
        return settings.GOVERN_API_RATE

    def get_cache_key(self, request, view) -> str:
        auth = request.auth
        key = getattr(auth, "key", None)
        if key:
            ident = f"token:{key}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
