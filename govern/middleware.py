"""Show times in the viewer's time zone (stored in UTC)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

TZ_COOKIE = "govern_tz"


class ViewerTimezoneMiddleware:
    """Activate the zone the browser reported in the ``govern_tz`` cookie (set by base.js)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get(TZ_COOKIE, "")
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
