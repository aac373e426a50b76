"""The weekly compliance digest: the PDF report mailed to everyone who may read reports."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from govern.audit import audit_log

from .metrics import Period
from .pdf import render_pdf
from .report import ComplianceReport, build_report

logger = logging.getLogger(__name__)

DIGEST_DAYS = 7


def digest_recipients() -> list[str]:
    """E-mail addresses of active users holding ``govern.view_reports`` (directly, through a
    group, or as superusers), sorted and without duplicates."""
    perm = Permission.objects.get(content_type__app_label="govern", codename="view_reports")
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(is_superuser=True) | Q(groups__permissions=perm) | Q(user_permissions=perm))
    )
    return sorted(set(users.values_list("email", flat=True)))


def _body(report: ComplianceReport) -> str:
    r, k = report.response, report.kpis()
    issues = report.top_issues(limit=5)
    lines = [
        f"govern compliance digest for {report.period.label}.",
        "",
        report.headline(),
        "",
        f"Alerts raised: {r.alerts}. Open now: {report.open_alerts.total} "
        f"({report.open_alerts.overdue} past their containment due time).",
        f"Mean time to acknowledge {k['mtta']}, to contain {k['mttc']}, to resolve {k['mttr']}; "
        f"{k['sla']} of due SLA clocks met.",
        (
            f"Revocations: {k['revocation_success']} succeeded; containment verified "
            f"{k['verification']}."
            if k["revocations_recorded"]
            else "Revocations: no revocations recorded in the period."
        ),
        "",
    ]
    if issues:
        lines.append("Needs attention:")
        lines += [
            f"- {fw.framework.short_name} {row.control.ref_id} ({row.status_label}): {row.reason}"
            for fw, row in issues
        ]
        lines.append("")
    url = settings.GOVERN_BASE_URL.rstrip("/") + reverse("compliance:report") + "?days=7"
    lines += [f"The full report is attached as a PDF and online at {url}", ""]
    return "\n".join(lines)


def compliance_digest_send(
    *, now: datetime | None = None, actor_label: str = "system:compliance-digest"
) -> int:
    """Mail the last week's report (PDF attached) to every report reader, one message each so
    addresses are not disclosed to one another. Records the send in the audit log; the mail
    leaves once that is committed. Returns the number of recipients (0: nothing is sent)."""
    now = now or timezone.now()
    recipients = digest_recipients()
    if not recipients:
        logger.info("compliance digest: nobody with an e-mail address may read reports")
        return 0
    report = build_report(Period.last_days(DIGEST_DAYS, now=now), now=now)
    attachment = render_pdf(report)
    subject = f"govern compliance digest, {report.period.label}"
    body = _body(report)
    filename = f"govern-compliance-{timezone.localtime(now):%Y%m%d}.pdf"

    def send() -> None:
        for address in recipients:
            message = EmailMessage(subject=subject, body=body, to=[address])
            message.attach(filename, attachment, "application/pdf")
            message.send()

    with transaction.atomic():
        audit_log(
            actor_label=actor_label,
            verb="compliance.digest_send",
            object_type="govern.compliance_report",
            object_id=f"{report.period.start:%Y-%m-%d}",
            object_repr=subject,
            after={"recipients": len(recipients), "period": report.period.label},
        )
        transaction.on_commit(send)
    return len(recipients)
