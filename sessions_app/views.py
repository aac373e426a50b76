"""Identity, session, event and source pages. Views translate; selectors and services decide."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from govern.pagination import paginate

from . import selectors
from .filtersets import EventFilter, IdentityFilter, SessionFilter
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
        },
    )
