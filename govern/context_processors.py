"""Navigation entries by permission, so each role sees only what it may open."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from .roles import role_of

# (section, label, url name, permission required or None), in sidebar order
NAV = [
    ("", "Overview", "home", None),
    ("Respond", "Alerts", "alerts_app:alert_list", "alerts_app.view_alert"),
    ("Respond", "Revocations", "revocations:list", "alerts_app.view_revocation"),
    ("Inventory", "Identities", "sessions_app:identity_list", "sessions_app.view_identity"),
    ("Inventory", "Sessions", "sessions_app:session_list", "sessions_app.view_session"),
    ("Inventory", "Events", "sessions_app:event_list", "sessions_app.view_telemetryevent"),
    ("Govern", "Compliance", "compliance:report", "govern.view_reports"),
    ("Govern", "Policies", "policies:list", "sessions_app.view_sessionlifetimepolicy"),
    ("Govern", "Audit log", "audit_log", "sessions_app.view_auditevent"),
    ("Configure", "Detectors", "alerts_app:detector_list", "alerts_app.view_detectorconfig"),
    ("Configure", "Suppressions", "alerts_app:suppression_list", "alerts_app.view_suppressionrule"),
    ("Configure", "SLA matrix", "alerts_app:sla_matrix", "alerts_app.view_slapolicy"),
    ("Configure", "Notifications", "alerts_app:notification_settings", "alerts_app.view_alert"),
    ("Configure", "Sources", "sessions_app:source_list", "sessions_app.view_source"),
    ("Configure", "Shared Signals", "ssf:admin", "alerts_app.view_ssfstream"),
    ("Configure", "Users", "user_list", "auth.view_user"),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items = []
    current = request.resolver_match.view_name if request.resolver_match else ""
    for section, label, url_name, perm in NAV:
        if perm and not user.has_perm(perm):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append(
            {"section": section, "label": label, "url": url, "active": current == url_name}
        )
    return {"nav_items": items, "user_role": role_of(user)}
