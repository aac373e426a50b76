"""Project-level pages: home, health, login, audit log, people."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from alerts_app import selectors as alert_selectors
from sessions_app import selectors as session_selectors
from sessions_app.models import AuditEvent

from . import charts, services
from .audit import client_ip_of
from .forms import AuditFilter, UserCreateForm, UserEditForm
from .pagination import paginate
from .roles import role_of


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


def home(request: HttpRequest) -> HttpResponse:
    stats = session_selectors.home_stats()
    figure = charts.stacked_bars(
        session_selectors.daily_event_series(stats.daily), y_title="events / day"
    )
    alerts = alert_selectors.open_alert_counts(request.user)
    return render(
        request, "govern/home.html", {"stats": stats, "events_figure": figure, "alerts": alerts}
    )


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def _broker_status() -> dict:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        ok = folder.is_dir() and os.access(folder, os.W_OK)
        return {"ok": ok, "transport": "filesystem"}
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except Exception as exc:
        return {"ok": False, "transport": "redis", "error": exc.__class__.__name__}
    return {"ok": True, "transport": "redis"}


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness/readiness for load balancers: 200 when database and broker answer, else 503."""
    database, broker = _database_status(), _broker_status()
    ok = database["ok"] and broker["ok"]
    return JsonResponse(
        {"status": "ok" if ok else "degraded", "database": database, "broker": broker},
        status=200 if ok else 503,
    )


@permission_required("sessions_app.view_auditevent", raise_exception=True)
def audit_log_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditFilter(request.GET, queryset=AuditEvent.objects.select_related("actor"))
    rows = filterset.qs if filterset.is_valid() else AuditEvent.objects.none()
    if request.GET.get("export") == "csv" and filterset.is_valid():
        return _audit_csv(rows)
    page = paginate(request, rows, per_page=100)
    return render(request, "govern/audit_log.html", {"filter": filterset, "page": page})


AUDIT_CSV_COLUMNS = [
    "id", "at", "actor", "verb", "object_type", "object_id", "object_repr",
    "before", "after", "client_ip", "prev_hash", "hash",
]  # fmt: skip


def _csv_cell(value) -> str:
    """Defuse spreadsheet formulas: a cell starting with = + - @ is read as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit_csv(rows) -> StreamingHttpResponse:
    """The filtered audit log as CSV, streamed so a large export does not fill memory."""

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def lines():
        yield writer.writerow(AUDIT_CSV_COLUMNS)
        for e in rows.order_by("id").iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        e.pk, e.at.isoformat(), e.actor_label, e.verb, e.object_type,
                        e.object_id, e.object_repr,
                        json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                        json.dumps(e.after, sort_keys=True) if e.after is not None else "",
                        e.client_ip, e.prev_hash, e.hash,
                    )
                ]
            )  # fmt: skip

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="govern-audit-log.csv"'
    return response


@permission_required("auth.view_user", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    rows = [(u, role_of(u)) for u in users]
    return render(request, "govern/user_list.html", {"rows": rows})


@permission_required("auth.add_user", raise_exception=True)
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(
            **form.cleaned_data, actor=request.user, client_ip=client_ip_of(request)
        )
        messages.success(request, f"User {user.username} created as {form.cleaned_data['role']}.")
        return redirect("user_list")
    return render(request, "govern/user_form.html", {"form": form, "creating": True})


@permission_required("auth.change_user", raise_exception=True)
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(get_user_model(), pk=pk)
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": role_of(user) or "Analyst",
        "is_active": user.is_active,
    }
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(
                user=user,
                **form.cleaned_data,
                actor=request.user,
                client_ip=client_ip_of(request),
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"User {user.username} updated.")
            return redirect("user_list")
    return render(request, "govern/user_form.html", {"form": form, "edited": user})
