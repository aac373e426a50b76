"""Compliance pages, exports over HTTP, the mapping editor, and the weekly digest."""

import io

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from govern.compliance.services import compliance_digest_send, digest_recipients
from govern.models import Control, ControlMapping
from govern.tasks import send_compliance_digest
from sessions_app.models import AuditEvent

from . import compliance_fixture as fx

PERIOD = "start=2026-03-01&end=2026-03-07"


@pytest.fixture
def org(db):
    return fx.build()


def test_report_page_shows_the_summary_frameworks_and_charts(client, manager, org):
    client.force_login(manager)
    response = client.get(reverse("compliance:report") + "?" + PERIOD)
    assert response.status_code == 200
    html = response.content.decode()
    assert "OWASP NHI Top 10: 3 covered, 3 partial, 0 gaps of 6 controls in scope" in html
    assert 'data-testid="mtta">1.8 h<' in html
    assert 'data-testid="sla">60%<' in html
    for figure in ("fig-detector", "fig-severity", "fig-response", "fig-sla", "fig-revocations"):
        assert f'id="{figure}"' in html
    assert reverse("compliance:export_pdf") + "?" + PERIOD.replace("&", "&amp;") in html
    assert "Edit mappings" not in html  # managers read, admins edit


def test_report_page_htmx_returns_only_the_report_partial(client, manager, org):
    client.force_login(manager)
    response = client.get(reverse("compliance:report") + "?days=7", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report">')
    assert "<html" not in html


def test_invalid_period_shows_the_error_and_no_report(client, manager, org):
    client.force_login(manager)
    html = client.get(reverse("compliance:report") + "?start=2026-03-07&end=2026-03-01")
    html = html.content.decode()
    assert "The end date is before the start date." in html
    assert 'data-testid="headline"' not in html
    html = client.get(reverse("compliance:report") + "?start=2026-03-07").content.decode()
    assert "Give both a start and an end date" in html
    html = client.get(reverse("compliance:report") + "?days=").content.decode()
    assert "Choose a number of days, or give a start and end date." in html
    bad = client.get(reverse("compliance:export_pdf") + "?days=12")
    assert bad.status_code == 400 and b"Invalid period" in bad.content


def test_report_page_query_count_is_bounded(client, manager, org, django_assert_max_num_queries):
    client.force_login(manager)
    with django_assert_max_num_queries(40):
        assert client.get(reverse("compliance:report") + "?" + PERIOD).status_code == 200


def test_framework_page_filters_by_status_and_scope(client, manager, org):
    client.force_login(manager)
    url = reverse("compliance:framework", args=["owasp-nhi-2025"])
    html = client.get(url + "?" + PERIOD + "&status=covered").content.decode()
    assert "NHI10:2025" in html and "NHI3:2025" in html and "NHI7:2025" not in html
    html = client.get(url + "?" + PERIOD + "&status=gap&scope=all").content.decode()
    assert "NHI4:2025" in html and "NHI10:2025" not in html
    bad = client.get(url + "?" + PERIOD + "&status=maybe").content.decode()
    assert "Select a valid choice" in bad
    assert client.get(reverse("compliance:framework", args=["nope"])).status_code == 404


def test_control_drilldown_shows_alerts_detectors_and_mappings(client, manager, org):
    client.force_login(manager)
    control = Control.objects.get(framework__slug="nist-csf-2.0", ref_id="DE.CM-01")
    html = client.get(reverse("compliance:control", args=[control.pk]) + "?" + PERIOD)
    html = html.content.decode()
    assert "Networks and network services are monitored" in html
    assert "1 open alert behind this control is past its containment due time." in html
    a1 = org["alerts"][0]
    assert reverse("alerts_app:alert_detail", args=[a1.pk]) in html
    assert "Alerts behind this control (3 in the period)" in html
    assert "Impossible travel between sign-ins" in html


def test_exports_over_http(client, manager, org):
    client.force_login(manager)
    csv_response = client.get(reverse("compliance:export_csv") + "?" + PERIOD)
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "attachment" in csv_response["Content-Disposition"]
    assert b"NHI10:2025" in csv_response.content
    pdf_response = client.get(reverse("compliance:export_pdf") + "?" + PERIOD)
    assert pdf_response["Content-Type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf_response.content)).pages) >= 5
    yaml_response = client.get(
        reverse("compliance:export_ciso", args=["nist-ai-rmf-1.0"]) + "?" + PERIOD
    )
    assert yaml_response["Content-Type"].startswith("application/yaml")
    assert b"urn:govern:risk:framework:nist-ai-rmf-1.0" in yaml_response.content
    bad = client.get(reverse("compliance:export_csv") + "?framework=nope")
    assert bad.status_code == 400


def test_admin_adds_edits_and_removes_a_mapping(client, admin_user, db):
    client.force_login(admin_user)
    control = Control.objects.get(framework__slug="owasp-nhi-2025", ref_id="NHI4:2025")
    create = reverse("compliance:mapping_create")
    bad = client.post(
        create,
        {"control": control.pk, "kind": "detector", "subject": "nope", "rationale": "x" * 30},
    )
    assert bad.status_code == 200
    assert "is not a known detector" in bad.content.decode()
    assert not ControlMapping.objects.filter(control=control).exists()

    rationale = "Re-authentication windows limit what an intercepted token can do."
    response = client.post(
        create,
        {
            "control": control.pk,
            "kind": "policy",
            "subject": "session_lifetime",
            "rationale": rationale,
        },
    )
    assert response.status_code == 302
    mapping = ControlMapping.objects.get(control=control)
    assert (mapping.kind, mapping.subject, mapping.is_default) == (
        "policy",
        "session_lifetime",
        False,
    )

    listing = client.get(reverse("compliance:mapping_list") + "?control=NHI4:2025").content.decode()
    assert rationale in listing
    edit = reverse("compliance:mapping_edit", args=[mapping.pk])
    short = client.post(edit, {"rationale": "no"})
    assert "20+ characters" in short.content.decode()
    client.post(edit, {"rationale": rationale + " Reviewed."})
    mapping.refresh_from_db()
    assert mapping.rationale.endswith("Reviewed.")
    assert client.get(reverse("compliance:mapping_delete", args=[mapping.pk])).status_code == 405
    assert client.post(reverse("compliance:mapping_delete", args=[mapping.pk])).status_code == 302
    assert not ControlMapping.objects.filter(pk=mapping.pk).exists()
    verbs = list(
        AuditEvent.objects.filter(verb__startswith="control_mapping")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["control_mapping.create", "control_mapping.update", "control_mapping.delete"]


def test_mapping_list_filters_and_reports_invalid_filters(client, admin_user, db):
    client.force_login(admin_user)
    url = reverse("compliance:mapping_list")
    html = client.get(url + "?kind=workflow&subject=revoke").content.decode()
    assert "RS.MI-01" in html and "Revoking the sessions" in html
    assert "Impossible travel" not in html
    html = client.get(url + "?kind=telepathy").content.decode()
    assert "Some filters are invalid" in html


def test_managers_cannot_edit_mappings(client, manager, db):
    client.force_login(manager)
    mapping = ControlMapping.objects.first()
    assert client.get(reverse("compliance:mapping_list")).status_code == 403
    assert client.post(reverse("compliance:mapping_delete", args=[mapping.pk])).status_code == 403
    assert ControlMapping.objects.filter(pk=mapping.pk).exists()


def test_weekly_digest_mails_the_pdf_to_report_readers(
    org, manager, analyst, admin_user, django_capture_on_commit_callbacks
):
    manager.email = "max@example.org"
    manager.save()
    analyst.email = "ana@example.org"  # analysts may not read reports
    analyst.save()
    assert digest_recipients() == ["max@example.org"]  # the admin has no address
    with django_capture_on_commit_callbacks(execute=True):
        assert compliance_digest_send(now=fx.END) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["max@example.org"]
    assert message.subject == "govern compliance digest, 2026-03-01 to 2026-03-07"
    assert "OWASP NHI Top 10: 3 covered" in message.body
    assert "/compliance/?days=7" in message.body
    ((name, content, mimetype),) = message.attachments
    assert mimetype == "application/pdf" and name == "govern-compliance-20260308.pdf"
    assert PdfReader(io.BytesIO(content)).pages[0].extract_text().startswith("Session-risk")
    audit = AuditEvent.objects.get(verb="compliance.digest_send")
    assert audit.after == {"recipients": 1, "period": "2026-03-01 to 2026-03-07"}


def test_digest_task_sends_nothing_without_recipients(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert send_compliance_digest() == {"recipients": 0}
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(verb="compliance.digest_send").exists()


def test_digest_is_scheduled_weekly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["compliance-digest"]
    assert entry["task"] == send_compliance_digest.name == "govern.send_compliance_digest"
    assert entry["schedule"].day_of_week == {1}


def test_mapping_list_query_count_is_bounded(client, admin_user, django_assert_max_num_queries):
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("compliance:mapping_list"))
    assert response.status_code == 200
    assert '<div class="pager">92 rows</div>' in response.content.decode()


def test_function_drilldown_rolls_up_its_subcategories(client, manager, org):
    client.force_login(manager)
    respond = Control.objects.get(framework__slug="nist-csf-2.0", ref_id="RS")
    html = client.get(reverse("compliance:control", args=[respond.pk]) + "?" + PERIOD)
    html = html.content.decode()
    assert "subcategories that govern maps to." in html
    assert "Nothing in govern is mapped to this control." in html  # no direct mappings
