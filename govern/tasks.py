"""Celery tasks of the project package (found by ``autodiscover_tasks``)."""

from __future__ import annotations

from celery import shared_task

from .compliance.services import compliance_digest_send


@shared_task(name="govern.send_compliance_digest", soft_time_limit=240, time_limit=300)
def send_compliance_digest() -> dict:
    """Weekly: mail the last seven days' compliance report (PDF) to report readers.

    Not ``acks_late``: a redelivered digest would mail everyone twice, and a missed one is
    visible (the audit log records every send) and can be re-run by hand.
    """
    return {"recipients": compliance_digest_send()}
