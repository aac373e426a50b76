"""Identity, session, event and source pages. Views translate; selectors and services decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from govern.audit import client_ip_of
from govern.pagination import paginate

from . import selectors, services
from .choices import SourceKind
from .connectors import ConnectorError, connector_for
from .filtersets import EventFilter, IdentityFilter, SessionFilter
from .forms import ImportForm, SourceForm
from .imports import ImportInputError, source_import_upload
from .models import Identity, QuarantinedEvent, Session, Source


def _list_page(request, template: str, filterset, *, per_page: int, extra: dict | None = None):
    """Render a filtered list: the whole page, or only its results partial for htmx."""
    rows = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    context = {"filter": filterset, "page": paginate(request, rows, per_page=per_page)}
    context.update(extra or {})
    if request.htmx and not request.htmx.boosted:
        template = f"{template}#results"
    return render(request, template, context)


@permission_required("sessions_app.view_identity", raise_exception=True)
def identity_list(request: HttpRequest) -> HttpResponse:
    filterset = IdentityFilter(request.GET, queryset=selectors.identity_list())
    return _list_page(request, "sessions_app/identity_list.html", filterset, per_page=50)


@permission_required("sessions_app.view_identity", raise_exception=True)
def identity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    identity = get_object_or_404(Identity.objects.select_related("owner"), pk=pk)
    return render(
        request,
        "sessions_app/identity_detail.html",
        {
            "identity": identity,
            "sessions": selectors.identity_sessions(identity),
            "events": selectors.identity_events(identity),
            "links": identity.links.select_related("source"),
        },
    )


@permission_required("sessions_app.view_session", raise_exception=True)
def session_list(request: HttpRequest) -> HttpResponse:
    filterset = SessionFilter(request.GET, queryset=selectors.session_list())
    return _list_page(request, "sessions_app/session_list.html", filterset, per_page=50)


@permission_required("sessions_app.view_session", raise_exception=True)
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(Session.objects.select_related("identity", "source"), pk=pk)
    events = selectors.session_events(session)
    return render(
        request,
        "sessions_app/session_detail.html",
        {"session": session, "timeline": selectors.timeline_with_changes(events)},
    )


@permission_required("sessions_app.view_telemetryevent", raise_exception=True)
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = EventFilter(request.GET, queryset=selectors.event_list())
    return _list_page(request, "sessions_app/event_list.html", filterset, per_page=100)


@permission_required("sessions_app.view_source", raise_exception=True)
def source_list(request: HttpRequest) -> HttpResponse:
    return render(request, "sessions_app/source_list.html", {"sources": selectors.source_list()})


@permission_required("sessions_app.view_source", raise_exception=True)
def source_detail(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    quarantined = QuarantinedEvent.objects.filter(source=source, resolved_at__isnull=True)
    return render(
        request,
        "sessions_app/source_detail.html",
        {
            "source": source,
            "quarantined": quarantined[:50],
            "quarantined_count": quarantined.count(),
            "pending": selectors.source_pending(source),
            "import_form": ImportForm(initial={"format": services.source_format(source)}),
        },
    )


def _save_source(request, form: SourceForm, source: Source | None) -> Source:
    if source is None:
        return services.source_create(
            name=form.cleaned_data["name"],
            kind=form.kind,
            settings=form.settings_values(),
            secrets=form.secret_values(),
            enabled=form.cleaned_data["enabled"],
            poll_interval_seconds=form.cleaned_data.get("poll_interval_seconds") or 60,
            actor=request.user,
            client_ip=client_ip_of(request),
        )
    services.source_update(
        source=source,
        name=form.cleaned_data["name"],
        settings=form.settings_values(),
        enabled=form.cleaned_data["enabled"],
        poll_interval_seconds=form.cleaned_data.get("poll_interval_seconds"),
        actor=request.user,
        client_ip=client_ip_of(request),
    )
    if form.secret_values():
        services.source_set_secrets(
            source=source,
            secrets=form.secret_values(),
            actor=request.user,
            client_ip=client_ip_of(request),
        )
    return source


@permission_required("sessions_app.add_source", raise_exception=True)
def source_create(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or request.POST.get("kind") or ""
    if kind not in SourceKind.values:
        return render(request, "sessions_app/source_kind.html", {"kinds": SourceKind.choices})
    form = SourceForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            source = _save_source(request, form, None)
        except ValidationError as exc:
            _add_model_errors(form, exc)
        else:
            messages.success(request, f"Source {source.name} created.")
            return redirect("sessions_app:source_detail", pk=source.pk)
    return render(
        request,
        "sessions_app/source_form.html",
        {"form": form, "kind": kind, "kind_label": SourceKind(kind).label},
    )


@permission_required("sessions_app.change_source", raise_exception=True)
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    form = SourceForm(request.POST or None, kind=source.kind, source=source)
    if request.method == "POST" and form.is_valid():
        try:
            _save_source(request, form, source)
        except ValidationError as exc:
            _add_model_errors(form, exc)
        else:
            messages.success(request, f"Source {source.name} saved.")
            return redirect("sessions_app:source_detail", pk=source.pk)
    return render(
        request,
        "sessions_app/source_form.html",
        {
            "form": form,
            "source": source,
            "kind": source.kind,
            "kind_label": source.get_kind_display(),
        },
    )


def _add_model_errors(form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@permission_required("sessions_app.change_source", raise_exception=True)
@require_POST
def source_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    services.source_update(
        source=source,
        enabled=not source.enabled,
        actor=request.user,
        client_ip=client_ip_of(request),
    )
    messages.success(request, f"{source.name} {'enabled' if source.enabled else 'disabled'}.")
    return redirect("sessions_app:source_detail", pk=source.pk)


@permission_required("sessions_app.change_source", raise_exception=True)
@require_POST
def source_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Try the connector's credentials and API once, and say what happened."""
    source = get_object_or_404(Source, pk=pk)
    try:
        message = connector_for(source).test_connection()
    except ConnectorError as exc:
        messages.error(request, f"Connection test failed ({exc.kind}): {exc}")
    else:
        messages.success(request, f"Connection test passed: {message}")
    return redirect("sessions_app:source_detail", pk=source.pk)


@permission_required("sessions_app.change_quarantinedevent", raise_exception=True)
@require_POST
def quarantine_retry(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    ids = QuarantinedEvent.objects.filter(source=source, resolved_at__isnull=True).values_list(
        "pk", flat=True
    )
    result = services.quarantine_reprocess(quarantined_ids=list(ids), actor=request.user)
    messages.success(
        request,
        f"Re-processed quarantine: imported {result.imported}, duplicates {result.duplicates}, "
        f"still quarantined {result.quarantined}.",
    )
    return redirect("sessions_app:source_detail", pk=source.pk)


@permission_required("sessions_app.change_source", raise_exception=True)
@require_POST
def source_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload a JSON / JSON Lines / .gz export into this source (as import_events does)."""
    source = get_object_or_404(Source, pk=pk)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Nothing imported: {errors}")
        return redirect("sessions_app:source_detail", pk=source.pk)
    try:
        result = source_import_upload(
            source=source,
            upload=form.cleaned_data["file"],
            fmt=form.cleaned_data["format"],
            actor=request.user,
            client_ip=client_ip_of(request),
        )
    except ImportInputError as exc:
        messages.error(request, f"Nothing imported: {exc}")
    else:
        level = messages.warning if result.quarantined else messages.success
        level(request, f"Imported {form.cleaned_data['file'].name}: {result.summary()}.")
    return redirect("sessions_app:source_detail", pk=source.pk)
