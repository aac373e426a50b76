"""Compliance pages for managers and the mapping editor for admins. Views translate: they
validate the period or form, call one selector or service, and render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from govern.audit import client_ip_of
from govern.pagination import paginate

from ..frameworks import services
from ..frameworks.subjects import subject_label
from ..models import Control, ControlMapping, Framework
from . import exports, pdf
from .forms import (
    ControlViewForm,
    MappingCreateForm,
    MappingEditForm,
    MappingFilter,
    period_form,
)
from .report import build_report
from .selectors import control_detail, framework_report, gather_evidence

VIEW = "govern.view_reports"
EDIT = "govern.change_controlmapping"


def _template(request: HttpRequest, name: str, partial: str) -> str:
    return f"{name}#{partial}" if request.htmx and not request.htmx.boosted else name


@permission_required(VIEW, raise_exception=True)
def report(request: HttpRequest) -> HttpResponse:
    """Executive summary, framework statuses and trends for a chosen period."""
    form = period_form(request.GET)
    context = {"form": form, "report": None}
    if form.is_valid():
        result = build_report(form.period())
        context.update(
            report=result,
            query=form.query(),
            kpis=result.kpis(),
            figures=result.trends.figures(result.period, result.revocations),
        )
    return render(request, _template(request, "govern/compliance_report.html", "report"), context)


@permission_required(VIEW, raise_exception=True)
def framework_detail(request: HttpRequest, slug: str) -> HttpResponse:
    framework = get_object_or_404(Framework, slug=slug)
    form = ControlViewForm(request.GET or {"days": "30", "scope": "mapped"})
    context = {"form": form, "framework": framework, "fw": None}
    if form.is_valid():
        fw = framework_report(framework, gather_evidence(form.period()))
        status, scope = form.cleaned_data.get("status"), form.cleaned_data.get("scope") or "mapped"
        rows = [
            r
            for r in fw.rows
            if (scope == "all" or r.in_scope) and (not status or r.status == status)
        ]
        context.update(fw=fw, rows=rows, query=form.query())
    return render(
        request, _template(request, "govern/compliance_framework.html", "controls"), context
    )


@permission_required(VIEW, raise_exception=True)
def control_drilldown(request: HttpRequest, pk: int) -> HttpResponse:
    control = get_object_or_404(Control.objects.select_related("framework", "parent"), pk=pk)
    form = period_form(request.GET)
    context = {"form": form, "control": control, "detail": None}
    if form.is_valid():
        context.update(
            detail=control_detail(control, gather_evidence(form.period())), query=form.query()
        )
    return render(request, "govern/compliance_control.html", context)


def _period_or_400(request: HttpRequest):
    form = period_form(request.GET)
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return None, HttpResponseBadRequest(f"Invalid period: {errors}", content_type="text/plain")
    return form, None


@permission_required(VIEW, raise_exception=True)
def export_csv(request: HttpRequest) -> HttpResponse:
    form, error = _period_or_400(request)
    if error:
        return error
    slug = request.GET.get("framework") or None
    if slug and not Framework.objects.filter(slug=slug).exists():
        return HttpResponseBadRequest(f"Unknown framework {slug!r}.", content_type="text/plain")
    result = build_report(form.period())
    response = HttpResponse(
        exports.report_csv(result, framework_slug=slug), content_type="text/csv; charset=utf-8"
    )
    name = f"govern-compliance-{slug or 'all'}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@permission_required(VIEW, raise_exception=True)
def export_pdf(request: HttpRequest) -> HttpResponse:
    form, error = _period_or_400(request)
    if error:
        return error
    body = pdf.render_pdf(build_report(form.period()))
    response = HttpResponse(body, content_type="application/pdf")
    name = f"govern-compliance-{timezone.localdate():%Y%m%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@permission_required(VIEW, raise_exception=True)
def export_ciso(request: HttpRequest, slug: str) -> HttpResponse:
    framework = get_object_or_404(Framework, slug=slug)
    form, error = _period_or_400(request)
    if error:
        return error
    fw = framework_report(framework, gather_evidence(form.period()))
    body = exports.ciso_library_yaml(fw, generated_on=f"{timezone.localdate():%Y-%m-%d}")
    response = HttpResponse(body, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="govern-evidence-{slug}-ciso-assistant.yaml"'
    )
    return response


# --------------------------------------------------------------------------- mapping editor


@permission_required(EDIT, raise_exception=True)
def mapping_list(request: HttpRequest) -> HttpResponse:
    queryset = ControlMapping.objects.select_related("control__framework", "updated_by")
    filterset = MappingFilter(request.GET, queryset=queryset)
    rows = filterset.qs if filterset.is_valid() else ControlMapping.objects.none()
    page = paginate(request, rows, per_page=100)
    for m in page:
        m.subject_label = subject_label(m.kind, m.subject)
    return render(
        request,
        _template(request, "govern/compliance_mappings.html", "results"),
        {"filter": filterset, "page": page},
    )


@permission_required(EDIT, raise_exception=True)
def mapping_create(request: HttpRequest) -> HttpResponse:
    form = MappingCreateForm(request.POST or None, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            mapping = services.control_mapping_create(
                **form.cleaned_data, actor=request.user, client_ip=client_ip_of(request)
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Mapped {mapping.subject} to {mapping.control.ref_id}.")
            return redirect("compliance:mapping_list")
    return render(request, "govern/compliance_mapping_form.html", {"form": form, "mapping": None})


@permission_required(EDIT, raise_exception=True)
def mapping_edit(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = get_object_or_404(ControlMapping.objects.select_related("control__framework"), pk=pk)
    form = MappingEditForm(request.POST or None, initial={"rationale": mapping.rationale})
    if request.method == "POST" and form.is_valid():
        try:
            services.control_mapping_update(
                mapping=mapping,
                rationale=form.cleaned_data["rationale"],
                actor=request.user,
                client_ip=client_ip_of(request),
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, f"Saved the rationale of {mapping}.")
            return redirect("compliance:mapping_list")
    mapping.subject_label = subject_label(mapping.kind, mapping.subject)
    return render(
        request, "govern/compliance_mapping_form.html", {"form": form, "mapping": mapping}
    )


@permission_required(EDIT, raise_exception=True)
@require_POST
def mapping_delete(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = get_object_or_404(ControlMapping.objects.select_related("control"), pk=pk)
    label = str(mapping)
    services.control_mapping_delete(
        mapping=mapping, actor=request.user, client_ip=client_ip_of(request)
    )
    messages.success(request, f"Removed the mapping {label}.")
    return redirect("compliance:mapping_list")
