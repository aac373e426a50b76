"""Revocation pages: list, preview + request, detail with live status, approve, reject.

Views translate: they validate input, call one service or selector and render. The status
partial is polled by htmx every 2 s and answers 286 (htmx: stop polling) once the revocation
reached a final state.
"""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from govern.audit import client_ip_of
from govern.pagination import paginate

from ..models import Revocation
from . import selectors, services
from .forms import (
    ApproveForm,
    RejectForm,
    RevocationFilter,
    RevocationRequestForm,
    RevocationTargetForm,
)

HTMX_STOP_POLLING = 286
VIEW = "alerts_app.view_revocation"


@permission_required(VIEW, raise_exception=True)
def revocation_list(request: HttpRequest) -> HttpResponse:
    filterset = RevocationFilter(request.GET, queryset=selectors.revocation_list())
    rows = filterset.qs if filterset.is_valid() else Revocation.objects.none()
    return render(
        request,
        "alerts_app/revocation_list.html",
        {
            "filter": filterset,
            "page": paginate(request, rows, per_page=50),
            "rates": selectors.containment_rates(),
        },
    )


@permission_required("alerts_app.request_revocation", raise_exception=True)
def revocation_new(request: HttpRequest) -> HttpResponse:
    """GET: the preview (blast radius) and the reason form. POST: request the revocation."""
    data = request.POST if request.method == "POST" else request.GET
    target = RevocationTargetForm(data)
    if not target.is_valid():
        return render(request, "alerts_app/revocation_new.html", {"target": target}, status=400)
    chosen = target.cleaned_data
    try:
        preview = services.revocation_preview(
            scope=chosen["scope"], identity=chosen["identity"], session=chosen["session"]
        )
    except ValueError as exc:
        target.add_error(None, str(exc))
        return render(request, "alerts_app/revocation_new.html", {"target": target}, status=400)
    if request.method == "POST":
        form = RevocationRequestForm(request.POST)
        if form.is_valid():
            try:
                revocation = services.revocation_request(
                    scope=chosen["scope"],
                    identity=chosen["identity"],
                    session=chosen["session"],
                    alert=chosen["alert"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    idempotency_key=form.cleaned_data["idempotency_key"] or None,
                    client_ip=client_ip_of(request),
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                if revocation.status == "pending_approval":
                    messages.info(request, "Revocation requested; it waits for a second approver.")
                else:
                    messages.success(request, "Revocation requested; it is being executed.")
                return redirect("revocations:detail", pk=revocation.pk)
    else:
        form = RevocationRequestForm(
            initial={**data.dict(), "idempotency_key": secrets.token_hex(16)}
        )
    return render(
        request,
        "alerts_app/revocation_new.html",
        {"target": target, "form": form, "preview": preview, "chosen": chosen},
    )


def _detail_context(request: HttpRequest, revocation: Revocation) -> dict:
    user = request.user
    may_decide = (
        revocation.status == "pending_approval"
        and user.has_perm("alerts_app.approve_revocation")
        and revocation.requested_by_id != user.pk
    )
    return {
        "revocation": revocation,
        "targets": revocation.targets.select_related("source"),
        "attempts": revocation.attempts.select_related("target"),
        "may_decide": may_decide,
        "approve_form": ApproveForm(),
        "reject_form": RejectForm(),
    }


def _get(pk: int) -> Revocation:
    return get_object_or_404(selectors.revocation_list(), pk=pk)


@permission_required(VIEW, raise_exception=True)
def revocation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    revocation = _get(pk)
    return render(
        request, "alerts_app/revocation_detail.html", _detail_context(request, revocation)
    )


@require_GET
@permission_required(VIEW, raise_exception=True)
def revocation_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The live status partial; 286 tells htmx to stop polling once the state is final."""
    revocation = _get(pk)
    response = render(
        request,
        "alerts_app/revocation_detail.html#status",
        _detail_context(request, revocation),
    )
    if revocation.is_terminal:
        response.status_code = HTMX_STOP_POLLING
    return response


def _decide(request: HttpRequest, pk: int, form_class, decide) -> HttpResponse:
    revocation = _get(pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            decide(revocation, form.cleaned_data)
        except (PermissionDenied, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            return redirect("revocations:detail", pk=pk)
    else:
        messages.error(request, "A reason is required to reject.")
    return redirect("revocations:detail", pk=pk)


@require_POST
@permission_required("alerts_app.approve_revocation", raise_exception=True)
def revocation_approve(request: HttpRequest, pk: int) -> HttpResponse:
    def decide(revocation, data):
        services.revocation_approve(
            revocation=revocation,
            actor=request.user,
            note=data["note"],
            client_ip=client_ip_of(request),
        )
        messages.success(request, "Approved; the revocation is being executed.")

    return _decide(request, pk, ApproveForm, decide)


@require_POST
@permission_required("alerts_app.approve_revocation", raise_exception=True)
def revocation_reject(request: HttpRequest, pk: int) -> HttpResponse:
    def decide(revocation, data):
        services.revocation_reject(
            revocation=revocation,
            actor=request.user,
            reason=data["reason"],
            client_ip=client_ip_of(request),
        )
        messages.success(request, "Rejected; nothing was sent to the identity provider.")

    return _decide(request, pk, RejectForm, decide)
