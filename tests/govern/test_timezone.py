"""Times are stored in UTC and shown in the viewer's time zone."""

from datetime import UTC, datetime

from django.urls import reverse

from govern.audit import audit_log
from sessions_app.models import AuditEvent


def test_audit_times_render_in_the_viewer_zone(client, manager):
    row = audit_log(actor_label="system:test", verb="tz.check")
    AuditEvent.objects.filter(pk=row.pk).update(at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    client.force_login(manager)
    client.cookies["govern_tz"] = "Asia/Tokyo"
    html = client.get(reverse("audit_log")).content.decode()
    assert "2026-01-15 21:00:00" in html and "Asia/Tokyo" in html
    client.cookies["govern_tz"] = "Not/AZone"
    html = client.get(reverse("audit_log")).content.decode()
    assert "2026-01-15 12:00:00" in html
