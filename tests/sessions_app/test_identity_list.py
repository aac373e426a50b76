"""The identity list's sorting by last seen: identities never seen come last either way."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from sessions_app.models import Identity

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def identities(db):
    for name, seen in (
        ("seen-early", T0),
        ("never-seen", None),
        ("seen-late", T0 + timedelta(days=2)),
        ("seen-between", T0 + timedelta(days=1)),
    ):
        Identity.objects.create(display_name=name, login=name, last_seen_at=seen)


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-last_seen", ["seen-late", "seen-between", "seen-early", "never-seen"]),
        ("last_seen", ["seen-early", "seen-between", "seen-late", "never-seen"]),
    ],
)
def test_identities_never_seen_come_last(client, analyst, identities, ordering, expected):
    client.force_login(analyst)
    response = client.get(reverse("sessions_app:identity_list"), {"ordering": ordering})
    assert response.status_code == 200
    assert [i.display_name for i in response.context["page"]] == expected
