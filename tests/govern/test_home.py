"""The home page shows real figures from the database."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from alerts_app.models import Alert
from sessions_app.models import Identity, Owner, Session, Source


def test_home_figures(client, analyst):
    now = timezone.now()
    source = Source.objects.create(name="okta-t", kind="okta")
    owner = Owner.objects.create(name="SRE")
    person = Identity.objects.create(display_name="Dana", login="dana")
    Identity.objects.create(kind="api_key", display_name="key", login="key-1", owner=owner)
    live = Session.objects.create(
        source=source, session_key="live", identity=person, first_seen_at=now, last_seen_at=now
    )
    quiet = now - timedelta(days=3)
    Session.objects.create(
        source=source,
        session_key="quiet",
        identity=person,
        first_seen_at=quiet,
        last_seen_at=quiet,
    )
    for n, severity in enumerate(["critical", "high", "high"]):
        Alert.objects.create(
            detector_id="impossible_travel",
            dedup_key=f"k{n}",
            title="t",
            summary="s",
            severity=severity,
            score=90,
            identity=person,
            session=live,
            first_seen_at=now,
            last_seen_at=now,
        )
    html = (
        client.get(reverse("home")).content.decode() if client.force_login(analyst) is None else ""
    )
    assert 'data-testid="identities-total">2<' in html
    assert 'data-testid="active-sessions">1<' in html  # the quiet one is not counted as live
    assert 'data-testid="open-alerts">3<' in html
    assert "1 critical" in html and "2 high" in html
