"""The alert queue and alert detail pages: filters, bulk actions, HTMX and plain requests,
permissions by role, pinned query counts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts_app.models import Alert, AlertHistory, Comment, SavedView, Stage, SuppressionRule

from . import triage_helpers as h

QUEUE = "/alerts/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def ids(response) -> set[int]:
    return {a.pk for a in response.context["page"]}


@pytest.fixture
def world(db, analyst):
    sre = h.owner("Platform SRE", email="sre@example.com")
    human = h.identity(login="alice@example.com")
    bot = h.identity(kind="service_account", login="svc-backup", owner=sre)
    admin = h.identity(login="root@example.com", privilege_tier="privileged")
    return {
        "human_new": h.alert(human, severity="high", title="Impossible travel"),
        "bot_new": h.alert(bot, severity="critical", detector_id="nhi_new_context", title="NHI"),
        "admin_mine": h.alert(
            admin, severity="medium", stage=Stage.IN_PROGRESS, assignee=analyst, title="Priv"
        ),
        "closed": h.alert(human, severity="low", stage=Stage.CLOSED, resolution="benign"),
        "late": h.alert(
            human, severity="high", ack_due_at=timezone.now() - timedelta(hours=1), title="Late"
        ),
        "owner": sre,
        "bot": bot,
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"human_new", "bot_new", "admin_mine", "late"}),
        ("status=all", {"human_new", "bot_new", "admin_mine", "closed", "late"}),
        ("status=closed", {"closed"}),
        ("stage=in_progress", {"admin_mine"}),
        ("stage=new&stage=in_progress", {"human_new", "bot_new", "admin_mine", "late"}),
        ("severity=critical", {"bot_new"}),
        ("severity=low&status=all", {"closed"}),
        ("detector=nhi_new_context", {"bot_new"}),
        ("identity_kind=service_account", {"bot_new"}),
        ("identity_class=non_human", {"bot_new"}),
        ("identity_class=human", {"human_new", "admin_mine", "late"}),
        ("privilege=privileged", {"admin_mine"}),
        ("assignee=me", {"admin_mine"}),
        ("assignee=none", {"human_new", "bot_new", "late"}),
        ("assignee=ana", {"admin_mine"}),
        ("sla=breaching", {"late"}),
        ("q=svc-backup", {"bot_new"}),
        ("q=Priv", {"admin_mine"}),
        ("control=NHI7:2025&severity=medium", {"admin_mine"}),
        ("resolution=benign&status=all", {"closed"}),
        ("substatus=investigating", set()),
        ("escalated=yes", set()),
        ("escalated=no&severity=medium", {"admin_mine"}),
    ],
)
def test_every_filter(client, analyst, world, query, expected):
    client.force_login(analyst)
    response = client.get(f"{QUEUE}?{query}")
    assert response.status_code == 200
    assert ids(response) == {world[name].pk for name in expected}, query


def test_owner_source_and_time_filters(client, analyst, world):
    client.force_login(analyst)
    response = client.get(f"{QUEUE}?owner={world['owner'].pk}")
    assert ids(response) == {world["bot_new"].pk}
    Alert.objects.filter(pk=world["late"].pk).update(
        last_seen_at=timezone.now() - timedelta(days=3)
    )
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert world["late"].pk not in ids(client.get(f"{QUEUE}?since={since}"))
    assert ids(client.get(f"{QUEUE}?until={since}")) == {world["late"].pk}
    source = h.source()
    assert ids(client.get(f"{QUEUE}?source={source.pk}")) == set()


def test_invalid_filter_shows_error_instead_of_everything(client, analyst, world):
    client.force_login(analyst)
    response = client.get(f"{QUEUE}?severity=nope&since=yesterday")
    assert response.status_code == 200
    assert ids(response) == set()
    assert "Some filters are invalid" in response.content.decode()


def test_htmx_gets_results_partial_and_plain_gets_page(client, analyst, world):
    client.force_login(analyst)
    full = client.get(f"{QUEUE}?severity=critical").content.decode()
    part = client.get(f"{QUEUE}?severity=critical", **HTMX).content.decode()
    assert "<html" in full and 'id="queue-filters"' in full
    assert "<html" not in part and part.lstrip().startswith('<div id="results">')
    assert "NHI" in part and "Impossible travel" not in part


def test_sorting_and_pagination_keep_filters(client, analyst, world):
    client.force_login(analyst)
    response = client.get(f"{QUEUE}?ordering=-score")
    scores = [a.score for a in response.context["page"]]
    assert scores == sorted(scores, reverse=True)
    for _ in range(55):
        h.alert(severity="low")
    page2 = client.get(f"{QUEUE}?severity=low&page=2")
    assert len(page2.context["page"]) == 5
    assert "severity=low&amp;page=1" in page2.content.decode()


def test_counts_partial_and_new_alert_poll(client, analyst, world):
    client.force_login(analyst)
    counts = client.get(reverse("alerts_app:alert_counts"), **HTMX).content.decode()
    expected = {"new": 3, "in_progress": 1, "contained": 0, "mine": 1, "unassigned": 3}
    for name, value in {**expected, "breaching": 1}.items():
        assert f'data-count="{name}">{value}<' in counts, name
    top = Alert.objects.order_by("-id").first().pk
    poll = reverse("alerts_app:alert_poll")
    assert "new alert" not in client.get(f"{poll}?after={top}", **HTMX).content.decode()
    fresh = h.alert(severity="critical")
    h.alert(severity="low")
    html = client.get(f"{poll}?severity=critical&after={top}", **HTMX).content.decode()
    assert "1 new alert —" in html and f"seen={top}" in html
    shown = client.get(f"{QUEUE}?severity=critical&seen={top}").content.decode()
    assert f'id="alert-row-{fresh.pk}"' in shown and "is-new" in shown


def test_saved_views(client, analyst, world):
    client.force_login(analyst)
    url = reverse("alerts_app:saved_view_create")
    response = client.post(url, {"name": "Critical NHI", "query": "severity=critical"})
    assert response.status_code == 302
    view = SavedView.objects.get(user=analyst)
    assert view.query == "severity=critical"
    page = client.get(QUEUE).content.decode()
    assert "Critical NHI" in page and "?severity=critical" in page
    client.post(url, {"name": "Critical NHI", "query": "x"})
    assert SavedView.objects.count() == 1
    client.post(reverse("alerts_app:saved_view_delete", args=[view.pk]))
    assert not SavedView.objects.exists()


def test_bulk_assign_selected_rows(client, analyst, world):
    client.force_login(analyst)
    picked = [world["human_new"].pk, world["bot_new"].pk]
    response = client.post(
        reverse("alerts_app:alert_bulk"),
        {"action": "assign", "scope": "selected", "ids": picked, "assignee": "me", "query": ""},
        **HTMX,
    )
    assert response.status_code == 200 and "alerts-changed" in response["HX-Trigger"]
    assert "2 alerts updated" in response.content.decode()
    assert set(Alert.objects.filter(assignee=analyst).values_list("pk", flat=True)) >= set(picked)


def test_bulk_close_all_matching_filter_without_htmx(client, analyst, world):
    client.force_login(analyst)
    response = client.post(
        reverse("alerts_app:alert_bulk"),
        {
            "action": "close",
            "scope": "all",
            "query": "identity_class=human&severity=high",
            "resolution": "false_positive",
            "reason": "test traffic from the QA lab",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?identity_class=human&severity=high")
    closed = set(Alert.objects.filter(resolution="false_positive").values_list("pk", flat=True))
    assert closed == {world["human_new"].pk, world["late"].pk}
    assert AlertHistory.objects.filter(reason="test traffic from the QA lab").count() == 2


def test_bulk_status_change_needs_reason(client, analyst, world):
    client.force_login(analyst)
    response = client.post(
        reverse("alerts_app:alert_bulk"),
        {
            "action": "transition",
            "scope": "selected",
            "ids": [world["human_new"].pk],
            "target": "in_progress/investigating",
            "query": "",
        },
        **HTMX,
    )
    assert "A reason is required" in response.content.decode()
    assert "HX-Trigger" not in response
    assert Alert.objects.get(pk=world["human_new"].pk).stage == Stage.NEW
    response = client.post(
        reverse("alerts_app:alert_bulk"),
        {"action": "close", "scope": "selected", "query": "", "reason": "x"},
        **HTMX,
    )
    assert "Select at least one alert" in response.content.decode()


def test_bulk_and_actions_forbidden_for_managers(client, manager, world):
    client.force_login(manager)
    pk = world["human_new"].pk
    assert client.post(reverse("alerts_app:alert_bulk"), {"action": "assign"}).status_code == 403
    assert client.post(reverse("alerts_app:alert_assign", args=[pk])).status_code == 403
    assert client.post(reverse("alerts_app:alert_comment", args=[pk])).status_code == 403
    assert client.post(reverse("alerts_app:alert_escalate", args=[pk])).status_code == 403
    assert client.post(reverse("alerts_app:alert_suppress", args=[pk])).status_code == 403
    response = client.post(
        reverse("alerts_app:alert_transition", args=[pk]),
        {"target": "contained", "reason": "x"},
    )
    assert response.status_code == 200 and "permission" in response.content.decode()
    assert Alert.objects.get(pk=pk).stage == Stage.NEW
    page = client.get(reverse("alerts_app:alert_detail", args=[pk])).content.decode()
    assert "Assign to me" not in page and 'name="ids"' not in client.get(QUEUE).content.decode()


def test_keyboard_assign_returns_the_row(client, analyst, world):
    client.force_login(analyst)
    pk = world["bot_new"].pk
    response = client.post(
        reverse("alerts_app:alert_assign", args=[pk]), {"assignee": "me", "next": "row"}, **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="alert-row-{pk}"') and "ana" in html
    assert "alerts-changed" in response["HX-Trigger"]


def test_detail_actions_with_htmx(client, analyst, admin_user, world):
    client.force_login(analyst)
    pk = world["human_new"].pk
    url = lambda name: reverse(f"alerts_app:{name}", args=[pk])  # noqa: E731
    r = client.post(url("alert_assign"), {"assignee": "me"}, **HTMX)
    assert r.status_code == 200 and 'id="detail-body"' in r.content.decode()
    assert "<html" not in r.content.decode()
    r = client.post(url("alert_comment"), {"text": "<script>x</script> @ada look"}, **HTMX)
    html = r.content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert '<span class="mention">@ada</span>' in html
    r = client.post(
        url("alert_escalate"), {"level": 2, "to": "ada", "reason": "privileged"}, **HTMX
    )
    assert "Escalated to ada" in r.content.decode()
    r = client.post(url("alert_transition"), {"target": "closed", "reason": "fp"}, **HTMX)
    assert "Closing needs a resolution" in r.content.decode()
    r = client.post(
        url("alert_transition"),
        {"target": "closed", "resolution": "false_positive", "reason": "lab test"},
        **HTMX,
    )
    assert "alerts-changed" in r["HX-Trigger"]
    alert = Alert.objects.get(pk=pk)
    assert (alert.stage, alert.resolution, alert.escalation_level) == (
        "closed",
        "false_positive",
        2,
    )
    actions = list(alert.history.values_list("action", flat=True))
    assert actions == ["assigned", "commented", "escalated", "transition"]
    assert Comment.objects.get().mentions.get() == admin_user


def test_detail_actions_without_htmx_redirect_with_messages(client, analyst, world):
    client.force_login(analyst)
    pk = world["bot_new"].pk
    response = client.post(reverse("alerts_app:alert_assign", args=[pk]), {"assignee": "me"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Assigned to ana" in page
    response = client.post(
        reverse("alerts_app:alert_transition", args=[pk]), {"target": "closed", "reason": "x"}
    )
    assert response.status_code == 200 and "Closing needs a resolution" in response.content.decode()


def test_suppress_from_alert_in_two_clicks(client, analyst, world):
    client.force_login(analyst)
    alert = world["bot_new"]
    page = client.get(reverse("alerts_app:alert_detail", args=[alert.pk])).content.decode()
    assert "Suppress similar alerts" in page
    form = client.get(reverse("alerts_app:alert_detail", args=[alert.pk])).context["suppress_form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["expires_at"] = data["expires_at"].strftime("%Y-%m-%dT%H:%M")
    data["reason"] = "backup job moved to a new region"
    data["match_identity"] = "on"
    response = client.post(reverse("alerts_app:alert_suppress", args=[alert.pk]), data, **HTMX)
    assert "Suppression rule #" in response.content.decode()
    rule = SuppressionRule.objects.get()
    assert rule.identity == world["bot"] and rule.created_from_id == alert.pk
    alert.refresh_from_db()
    assert alert.stage == Stage.SUPPRESSED and alert.suppressed_by == rule


def test_unknown_alert_is_404(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("alerts_app:alert_detail", args=[999999])).status_code == 404


def test_queue_query_count_is_pinned(client, analyst, world, django_assert_max_num_queries):
    for _ in range(60):
        h.alert(h.identity(kind="api_key"), severity="medium")
    client.force_login(analyst)
    # The page's rows are read in two steps (their ids, then the rows by id).
    with django_assert_max_num_queries(14):
        response = client.get(QUEUE)
    assert len(response.context["rows"]) == 50
    assert [r["pk"] for r in response.context["rows"]] == sorted(
        (r["pk"] for r in response.context["rows"]), reverse=True
    )
    with django_assert_max_num_queries(9):
        client.get(f"{QUEUE}?severity=medium&identity_class=non_human", **HTMX)


def test_detail_query_count_is_pinned(client, analyst, world, django_assert_max_num_queries):
    ident = h.identity()
    sess = h.session(ident)
    start = timezone.now() - timedelta(hours=1)
    for i in range(40):
        h.event(
            sess,
            start + timedelta(minutes=i),
            ip=f"10.0.0.{i % 3}",
            asn=64500 + i % 2,
            country="DE" if i % 2 else "US",
            lat=50.0,
            lon=8.0 + i % 2,
        )
    alert = h.alert(ident, sess=sess, evidence={"asn": 64501})
    for _ in range(5):
        h.alert(ident, sess=sess)
    from alerts_app import services

    for i in range(3):
        services.alert_comment(alert=alert, text=f"note {i} @ana", actor=analyst)
    client.force_login(analyst)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("alerts_app:alert_detail", args=[alert.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="small mono changed"' in html or "changed" in html
    assert "alert-map-figure" in html and "vendor/plotly/topojson/" in html
    assert 'id="response-panel"' in html


def test_bulk_change_status_on_selected_rows_with_htmx(client, analyst, world):
    client.force_login(analyst)
    picked = [world["human_new"].pk, world["bot_new"].pk]
    response = client.post(
        reverse("alerts_app:alert_bulk"),
        {
            "action": "transition",
            "scope": "selected",
            "ids": picked,
            "target": "in_progress/investigating",
            "reason": "campaign from AS9009",
            "query": "status=open",
        },
        **HTMX,
    )
    assert "2 alerts updated" in response.content.decode()
    assert "alerts-changed" in response["HX-Trigger"]
    stages = set(Alert.objects.filter(pk__in=picked).values_list("stage", "substatus"))
    assert stages == {("in_progress", "investigating")}


def test_admin_pages_by_permission(client, analyst, admin_user, world):
    client.force_login(analyst)
    url = reverse("alerts_app:sla_matrix")
    assert "Save" not in client.get(url).content.decode()
    assert client.post(url, {}).status_code == 403
    rule = SuppressionRule.objects.create(
        detector_id="impossible_travel",
        asn=64500,
        reason="lab",
        expires_at=timezone.now() + timedelta(days=1),
    )
    end = reverse("alerts_app:suppression_end", args=[rule.pk])
    assert client.post(end, {"reason": "done"}).status_code == 403
    client.force_login(admin_user)
    data = {}
    for severity in ("critical", "high", "medium", "low"):
        for identity_class in ("human", "non_human"):
            data[f"{severity}__{identity_class}__ack"] = 10
            data[f"{severity}__{identity_class}__contain"] = 20
    data["high__human__contain"] = 5  # shorter than acknowledge: refused, nothing saved
    assert "acknowledge must be" in client.post(url, data).content.decode()
    data["high__human__contain"] = 30
    assert client.post(url, data).status_code == 302
    from alerts_app.selectors import sla_matrix

    assert sla_matrix()[("high", "human")] == (10, 30)
    assert client.post(end, {"reason": "lab closed"}).status_code == 302
    rule.refresh_from_db()
    assert rule.ended_at is not None


def test_timeline_rows_escape_every_value_and_mark_changes():
    from types import SimpleNamespace

    from alerts_app.selectors import TimelineRow
    from alerts_app.templatetags.triage_tags import timeline_rows

    event = SimpleNamespace(
        occurred_at=timezone.now(),
        provider_event_type="user.session.<start>",
        high_value_action='admin" onmouseover="x',
        outcome="SUCCESS",
        ip="203.0.113.9",
        anonymizer=True,
        asn=64500,
        as_org="Evil & Co <b>",
        city="Köln",
        country="DE",
        user_agent="<script>alert(1)</script>" * 3,
        client_app="Slack",
        device_id="<dev-1234567890123456>",
    )
    html = str(timeline_rows([TimelineRow(event=event, changed=frozenset({"ip", "device_id"}))]))
    assert "<script>" not in html and "<b>" not in html and "<start>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "admin&quot; onmouseover=&quot;x" in html and "Evil &amp; Co &lt;b&gt;" in html
    assert '<td class="small mono changed">203.0.113.9 <span class="badge bad">anonymizer' in html
    assert '<td class="small">AS64500' in html  # unchanged cells stay plain
    assert html.count("changed") == 2
