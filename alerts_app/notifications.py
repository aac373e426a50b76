"""Notifications to analysts and response owners, by email and Slack-compatible webhook.

``notify`` writes ``Notification`` rows inside the caller's transaction and schedules their
delivery on commit. Delivery is immediate unless the recipient chose digest mode or is
receiving a burst (more than ``BURST_LIMIT`` in ``BURST_WINDOW``): then rows wait for the
periodic digest, so a storm of alerts becomes one message per recipient, not hundreds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

import requests
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from sessions_app.models import Owner

from .models import Alert, Notification, NotificationKind, NotificationPreference, OwnerQuestion

log = logging.getLogger(__name__)

BURST_LIMIT = 10
BURST_WINDOW = timedelta(minutes=10)
WEBHOOK_TIMEOUT = 10  # seconds
OWNER_QUESTION_SALT = "alerts_app.owner_question"
OWNER_QUESTION_MAX_AGE = 14 * 86400


def absolute(path: str) -> str:
    return settings.GOVERN_BASE_URL.rstrip("/") + path


def alert_link(alert: Alert) -> str:
    return absolute(reverse("alerts_app:alert_detail", args=[alert.pk]))


def owner_question_token(question: OwnerQuestion) -> str:
    return signing.dumps({"q": question.pk}, salt=OWNER_QUESTION_SALT)


def owner_question_from_token(token: str) -> OwnerQuestion:
    """The question a signed link points at; raises signing.BadSignature (or expiry) if forged."""
    data = signing.loads(token, salt=OWNER_QUESTION_SALT, max_age=OWNER_QUESTION_MAX_AGE)
    return OwnerQuestion.objects.select_related("alert", "owner").get(pk=data["q"])


def owner_question_link(question: OwnerQuestion) -> str:
    return absolute(reverse("alerts_app:owner_answer", args=[owner_question_token(question)]))


def notify(
    *,
    kind: str,
    alert: Alert | None,
    subject: str,
    body: str,
    users: Iterable = (),
    owner: Owner | None = None,
    link: str = "",
) -> list[Notification]:
    """Record notifications for users (and/or one owner team) and deliver them on commit."""
    link = link or (alert_link(alert) if alert is not None else "")
    rows = [
        Notification(
            recipient=user, alert=alert, kind=kind, subject=subject[:250], body=body, link=link
        )
        for user in {u.pk: u for u in users if u is not None and u.is_active}.values()
    ]
    if owner is not None:
        rows.append(
            Notification(
                owner=owner, alert=alert, kind=kind, subject=subject[:250], body=body, link=link
            )
        )
    if not rows:
        return []
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created]

    def deliver_later() -> None:
        from .tasks import deliver_notifications

        deliver_notifications.delay(ids)

    transaction.on_commit(deliver_later)
    return created


def post_webhook(url: str, text: str) -> None:
    """POST a Slack-compatible message ({"text": ...}); raises requests.RequestException."""
    response = requests.post(url, json={"text": text}, timeout=WEBHOOK_TIMEOUT)
    response.raise_for_status()


def _message(n: Notification) -> str:
    return f"{n.subject}\n\n{n.body}\n\n{n.link}".strip()


def _targets(n: Notification, prefs: dict[int, NotificationPreference]) -> tuple[str, str]:
    """(email address, webhook url) for one notification's recipient; either may be ''."""
    if n.owner_id is not None:
        return n.owner.email, n.owner.chat_webhook_url
    pref = prefs.get(n.recipient_id)
    email = n.recipient.email if (pref is None or pref.email) else ""
    return email, pref.webhook_url if pref else ""


def _send(email: str, webhook: str, subject: str, text: str) -> list[str]:
    """Send on every configured channel; returns the channels used, raises on failure."""
    channels = []
    if email:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [email])
        channels.append("email")
    if webhook:
        post_webhook(webhook, f"*{subject}*\n{text}" if subject not in text else text)
        channels.append("webhook")
    return channels


def deliver(notification_ids: Iterable[int]) -> dict:
    """Deliver pending notifications now, or hold them for the digest (digest mode / burst)."""
    now = timezone.now()
    pending = list(
        Notification.objects.filter(pk__in=list(notification_ids), sent_at__isnull=True)
        .select_related("recipient", "owner")
        .order_by("id")
    )
    prefs = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(
            user_id__in={n.recipient_id for n in pending if n.recipient_id}
        )
    }
    sent = held = failed = 0
    for n in pending:
        pref = prefs.get(n.recipient_id) if n.recipient_id else None
        if n.recipient_id and ((pref is not None and pref.digest) or _bursting(n, now)):
            Notification.objects.filter(pk=n.pk, sent_at__isnull=True).update(digest=True)
            held += 1
            continue
        email, webhook = _targets(n, prefs)
        try:
            channels = _send(email, webhook, n.subject, _message(n))
        except (requests.RequestException, OSError) as exc:
            Notification.objects.filter(pk=n.pk).update(
                error=str(exc)[:500], attempts=n.attempts + 1
            )
            failed += 1
            log.warning("Notification %s failed: %s", n.pk, exc)
            continue
        Notification.objects.filter(pk=n.pk, sent_at__isnull=True).update(
            sent_at=now, channels=channels, error="", attempts=n.attempts + 1
        )
        sent += 1
    return {"sent": sent, "held": held, "failed": failed}


def _bursting(n: Notification, now) -> bool:
    """More than BURST_LIMIT notifications for this user recently: switch them to the digest."""
    recent = Notification.objects.filter(
        recipient_id=n.recipient_id, created_at__gte=now - BURST_WINDOW, id__lt=n.pk
    ).count()
    return recent >= BURST_LIMIT


def send_digests() -> dict:
    """One message per recipient with everything held for the digest, then mark them sent."""
    now = timezone.now()
    held = (
        Notification.objects.filter(digest=True, sent_at__isnull=True, recipient__isnull=False)
        .select_related("recipient")
        .order_by("recipient_id", "created_at", "id")
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for n in held[:5000]:
        by_user[n.recipient_id].append(n)
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(by_user))}
    digests = 0
    for items in by_user.values():
        lines = [
            f"- [{NotificationKind(n.kind).label}] {n.subject} {n.link}".rstrip() for n in items
        ]
        subject = f"govern digest: {len(items)} notification{'s' if len(items) != 1 else ''}"
        email, webhook = _targets(items[0], prefs)
        try:
            channels = _send(email, webhook, subject, "\n".join(lines))
        except (requests.RequestException, OSError) as exc:
            log.warning("Digest for user %s failed: %s", items[0].recipient_id, exc)
            Notification.objects.filter(pk__in=[n.pk for n in items]).update(error=str(exc)[:500])
            continue
        Notification.objects.filter(pk__in=[n.pk for n in items], sent_at__isnull=True).update(
            sent_at=now, channels=channels, error=""
        )
        digests += 1
    return {"digests": digests}
