"""Notifications by email (Django mail) and Slack-compatible webhook (a local HTTP server),
digest mode and burst folding, and the owner's "was this you?" round trip."""

import json
import re

import pytest
from django.core import mail
from django.urls import reverse

from alerts_app import notifications, services
from alerts_app.models import (
    Notification,
    NotificationKind,
    NotificationPreference,
    OwnerQuestion,
    Stage,
    Substatus,
)
from tests.fakes.server import FakeServer, Received, Reply

from . import triage_helpers as h


class ChatWebhook(FakeServer):
    """Accepts Slack-style incoming-webhook posts like Slack does (200 "ok")."""

    def handle(self, request: Received) -> Reply:
        return Reply(200, b"ok")

    def texts(self) -> list[str]:
        return [json.loads(r.body)["text"] for r in self.requests if r.method == "POST"]


@pytest.fixture
def chat():
    with ChatWebhook() as server:
        yield server


def pending_ids() -> list[int]:
    return list(Notification.objects.filter(sent_at__isnull=True).values_list("id", flat=True))


def test_assignment_goes_out_by_email_and_webhook_on_commit(
    analyst, admin_user, chat, django_capture_on_commit_callbacks
):
    admin_user.email = "ada@example.com"
    admin_user.save()
    NotificationPreference.objects.create(user=admin_user, webhook_url=f"{chat.url}/hooks/ada")
    alert = h.alert()
    with django_capture_on_commit_callbacks() as callbacks:
        services.alert_assign(alert=alert, assignee=admin_user, actor=analyst)
    assert len(callbacks) == 1  # delivery is scheduled only once the change commits
    assert notifications.deliver(pending_ids()) == {"sent": 1, "held": 0, "failed": 0}
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert f"Alert #{alert.pk} assigned to you" in mail.outbox[0].subject
    assert f"/alerts/{alert.pk}/" in mail.outbox[0].body
    assert chat.requests[0].path == "/hooks/ada"
    assert f"Alert #{alert.pk} assigned to you" in chat.texts()[0]
    sent = Notification.objects.get()
    assert sent.channels == ["email", "webhook"] and sent.sent_at is not None
    # Redelivery of the same ids sends nothing again.
    assert notifications.deliver([sent.pk]) == {"sent": 0, "held": 0, "failed": 0}


def test_webhook_failure_is_recorded_and_retried(analyst, admin_user, chat):
    NotificationPreference.objects.create(
        user=admin_user, email=False, webhook_url=f"{chat.url}/hooks/ada"
    )
    services.alert_assign(alert=h.alert(), assignee=admin_user, actor=analyst)
    chat.fail_next(500, body=b"boom")
    assert notifications.deliver(pending_ids())["failed"] == 1
    row = Notification.objects.get()
    assert row.sent_at is None and "500" in row.error and row.attempts == 1
    assert notifications.deliver([row.pk])["sent"] == 1
    assert not mail.outbox


def test_digest_mode_folds_everything_into_one_message(analyst, admin_user, chat):
    admin_user.email = "ada@example.com"
    admin_user.save()
    NotificationPreference.objects.create(
        user=admin_user, digest=True, webhook_url=f"{chat.url}/hooks/ada"
    )
    alerts = [h.alert() for _ in range(3)]
    for alert in alerts:
        services.alert_assign(alert=alert, assignee=admin_user, actor=analyst)
    services.alert_comment(alert=alerts[0], text="@ada please look", actor=analyst)
    assert notifications.deliver(pending_ids()) == {"sent": 0, "held": 4, "failed": 0}
    assert not mail.outbox and not chat.requests
    assert notifications.send_digests() == {"digests": 1}
    assert len(mail.outbox) == 1 and "4 notifications" in mail.outbox[0].subject
    body = mail.outbox[0].body
    assert all(f"Alert #{a.pk} assigned to you" in body for a in alerts)
    assert "mentioned you" in body and len(chat.requests) == 1
    assert not Notification.objects.filter(sent_at__isnull=True).exists()
    assert notifications.send_digests() == {"digests": 0}


def test_a_burst_switches_to_the_digest(analyst, admin_user):
    admin_user.email = "ada@example.com"
    admin_user.save()
    for _ in range(notifications.BURST_LIMIT + 3):
        services.alert_assign(alert=h.alert(), assignee=admin_user, actor=analyst)
    result = notifications.deliver(pending_ids())
    assert result == {"sent": notifications.BURST_LIMIT, "held": 3, "failed": 0}
    notifications.send_digests()
    assert len(mail.outbox) == notifications.BURST_LIMIT + 1


def test_owner_is_asked_and_the_answer_is_recorded(client, analyst, chat):
    owner = h.owner("Backup team", email="backup@example.com", chat_webhook_url=f"{chat.url}/b")
    bot = h.identity(kind="service_account", login="svc-backup", owner=owner)
    alert = h.alert(bot)
    services.alert_assign(alert=alert, assignee=analyst, actor=analyst)
    services.alert_transition(
        alert=alert,
        to_stage=Stage.IN_PROGRESS,
        substatus=Substatus.AWAITING_INFO,
        actor=analyst,
        reason="Did your backup job run from a new cloud region last night?",
    )
    question = OwnerQuestion.objects.get()
    asked = Notification.objects.get(kind=NotificationKind.OWNER_QUESTION)
    assert asked.owner == owner and asked.recipient is None
    notifications.deliver([asked.pk])
    assert mail.outbox[-1].to == ["backup@example.com"]
    assert "Was this you?" in mail.outbox[-1].subject
    link = re.search(r"http://\S+/answer/\S+/", mail.outbox[-1].body).group(0)
    assert link in chat.texts()[-1]
    path = link.split("127.0.0.1:8000", 1)[-1]

    page = client.get(path)  # anonymous: the owner has no govern login
    assert page.status_code == 200 and "new cloud region" in page.content.decode()
    response = client.post(
        path, {"answer": "confirmed", "answered_by": "Bo (backup team)", "note": "migration"}
    )
    assert "Answered" in response.content.decode()
    question.refresh_from_db()
    assert question.answer == "confirmed" and question.answered_by == "Bo (backup team)"
    alert.refresh_from_db()
    assert alert.substatus == Substatus.INVESTIGATING
    actions = list(alert.history.values_list("action", flat=True))
    assert actions[-3:] == ["owner_asked", "owner_answered", "transition"]
    assert alert.history.get(action="owner_answered").actor_label == "owner:Bo (backup team)"
    # Answering twice is refused, a forged link is a 404.
    again = client.post(path, {"answer": "denied", "answered_by": "Eve"})
    assert "Answered" in again.content.decode()
    question.refresh_from_db()
    assert question.answer == "confirmed"
    assert client.get(reverse("alerts_app:owner_answer", args=["forged:token"])).status_code == 404


def test_asking_needs_a_reachable_owner(analyst):
    alert = h.alert(h.identity(kind="api_key", owner=h.owner("Nobody")))
    with pytest.raises(services.WorkflowError, match="neither an email"):
        services.owner_question_ask(alert=alert, question="was this you?", actor=analyst)
    # Moving to awaiting info still works; there is just nobody to ask automatically.
    services.alert_transition(
        alert=alert,
        to_stage=Stage.IN_PROGRESS,
        substatus="awaiting_info",
        actor=analyst,
        reason="asking by phone",
    )
    assert not OwnerQuestion.objects.exists()


def test_notification_settings_page(client, analyst):
    client.force_login(analyst)
    url = reverse("alerts_app:notification_settings")
    response = client.post(url, {"digest": "on", "email": "on", "webhook_url": "not a url"})
    assert response.status_code == 200 and not NotificationPreference.objects.exists()
    client.post(url, {"digest": "on", "webhook_url": "https://chat.example.com/hook"})
    pref = NotificationPreference.objects.get(user=analyst)
    assert pref.digest and not pref.email and pref.webhook_url.endswith("/hook")
