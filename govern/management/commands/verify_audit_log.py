"""``manage.py verify_audit_log``: walk the hash chain and report the first broken link."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from govern.audit import verify_chain
from sessions_app.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain. Exits 0 when every entry verifies; otherwise "
        "reports the first entry whose link or content no longer matches and exits 1."
    )

    def handle(self, *args, **options) -> None:
        total = AuditEvent.objects.count()
        broken = verify_chain()
        if broken is None:
            self.stdout.write(self.style.SUCCESS(f"Audit log intact: {total} entries verified."))
            return
        previous = (
            AuditEvent.objects.filter(id__lt=broken.pk)
            .order_by("-id")
            .values_list("hash", flat=True)
        ).first() or ""
        if broken.prev_hash != previous:
            why = (
                "its link to the previous entry does not match (an entry before it was "
                "deleted or altered)"
            )
        else:
            why = "its content does not match its hash (the entry was altered)"
        raise CommandError(
            f"Audit log broken at entry #{broken.pk} ({broken.at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{broken.actor_label} {broken.verb} {broken.object_type}#{broken.object_id}): "
            f"{why}. {total} entries checked."
        )
