"""Alert queue, alert detail, triage actions and detector pages.

Views translate: they validate input with a form or the FilterSet, call one service or
selector and render. HTMX requests get the named partial of the same template; every action
also works as a plain form post (redirect back with a message).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from govern.audit import client_ip_of
from govern.pagination import paginate

from . import charts, notifications, selectors, services
from .detectors import REGISTRY
from .detectors.base import ParamsError
from .filtersets import AlertFilter
from .forms import (
    AssignForm,
    BulkForm,
    CommentForm,
    DetectorConfigForm,
    EscalateForm,
    NotificationPreferenceForm,
    OwnerAnswerForm,
    SavedViewForm,
    SLAMatrixForm,
    SuppressionForm,
    TransitionForm,
    split_target,
)
from .models import (
    Alert,
    Notification,
    NotificationPreference,
    OwnerQuestion,
    SavedView,
    SuppressionRule,
)
from .services import WorkflowError

QUEUE_PAGE_SIZE = 50
QUEUE_TEMPLATE = "alerts_app/alert_list.html"
DETAIL_TEMPLATE = "alerts_app/alert_detail.html"
CHANGED = "alerts-changed"  # client event: counters and queue refresh


# ---------------------------------------------------------------------------- queue


def _queue_data(query: QueryDict) -> QueryDict:
    """The filter input, with the queue's default (open alerts) when no status is given."""
    data = query.copy()
    if "status" not in data:
        data["status"] = "open"
    return data


def _queue_filter(request: HttpRequest, query: QueryDict | None = None) -> AlertFilter:
    data = _queue_data(request.GET if query is None else query)
    return AlertFilter(data, queryset=selectors.alert_list(request.user), request=request)


def _queue_context(request: HttpRequest, filterset: AlertFilter) -> dict:
    rows = filterset.qs if filterset.is_valid() else Alert.objects.none()
    if rows.query.order_by and "-id" not in rows.query.order_by:
        # A chosen sort (score, due time…) gets the id as tie-breaker: stable pages, and the
        # (-score, -id) index serves it.
        rows = rows.order_by(*rows.query.order_by, "-id")
    page = paginate(request, rows, per_page=QUEUE_PAGE_SIZE)
    now = timezone.now()
    seen = request.GET.get("seen", "")
    query = request.GET.copy()
    for volatile in ("page", "seen", "after"):
        query.pop(volatile, None)
    # Alerts with a higher id than this arrived after the page was drawn: "new" when polled.
    top_id = Alert.objects.order_by("-id").values_list("id", flat=True).first() or 0
    poll = query.copy()
    poll["after"] = str(top_id)
    return {
        "filter": filterset,
        "page": page,
        "rows": selectors.queue_rows(selectors.queue_row_values(page.object_list), now=now),
        "now": now,
        "seen": int(seen) if seen.isdigit() else None,
        "query": query.urlencode(),
        "poll_url": f"{reverse('alerts_app:alert_poll')}?{poll.urlencode()}",
        "new_count": 0,
        "can_triage": request.user.has_perm("alerts_app.triage_alert"),
        # Rows link by prefix: one reverse() per page instead of four per row.
        "alerts_url": reverse("alerts_app:alert_list"),
    }


@require_GET
@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_list(request: HttpRequest) -> HttpResponse:
    filterset = _queue_filter(request)
    context = _queue_context(request, filterset)
    if request.htmx and (not request.htmx.boosted or request.htmx.target == "results"):
        return render(request, QUEUE_TEMPLATE + "#results", context)
    context.update(
        counts=selectors.queue_counts(request.user, context["now"]),
        builtin_views=selectors.BUILTIN_VIEWS,
        saved_views=selectors.saved_views(request.user),
        bulk_form=BulkForm(initial={"query": context["query"]}),
        assignees=selectors.users_with_perm("alerts_app.triage_alert"),
    )
    return render(request, QUEUE_TEMPLATE, context)


@require_GET
@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_counts(request: HttpRequest) -> HttpResponse:
    counts = selectors.queue_counts(request.user, timezone.now())
    return render(request, QUEUE_TEMPLATE + "#counts", {"counts": counts})


@require_GET
@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_poll(request: HttpRequest) -> HttpResponse:
    """How many alerts matching the current filter arrived after ``after`` (an alert id)."""
    after = request.GET.get("after", "")
    filterset = _queue_filter(request)
    new = 0
    if after.isdigit() and filterset.is_valid():
        new = filterset.qs.filter(pk__gt=int(after)).count()
    show = request.GET.copy()
    show.pop("after", None)
    show["seen"] = after
    return render(
        request,
        QUEUE_TEMPLATE + "#new-alerts",
        {"new_count": new, "show_query": show.urlencode(), "poll_url": request.get_full_path()},
    )


def _resolve_assignee(request: HttpRequest, value: str):
    value = (value or "").strip()
    if value in ("", "none"):
        return None
    if value == "me":
        return request.user
    user = get_user_model().objects.filter(username=value).first()
    if user is None:
        raise WorkflowError(f"There is no user {value!r}.")
    return user


@require_POST
@permission_required("alerts_app.triage_alert", raise_exception=True)
def alert_bulk(request: HttpRequest) -> HttpResponse:
    """Assign, change status or close the selected rows or every row matching the filter."""
    form = BulkForm(request.POST)
    back_query = request.POST.get("query", "")
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        return _bulk_done(request, back_query, error=errors)
    data = form.cleaned_data
    if data["scope"] == "all":
        filterset = _queue_filter(request, QueryDict(data["query"]))
        if not filterset.is_valid():
            return _bulk_done(request, back_query, error="The filter is invalid.")
        alerts = filterset.qs
    else:
        alerts = Alert.objects.restrict(request.user, "triage").filter(pk__in=data["ids"])
    stage, substatus = split_target(data.get("target") or "")
    try:
        result = services.alert_bulk_apply(
            alerts=alerts,
            action=data["action"],
            actor=request.user,
            reason=data["reason"],
            assignee=_resolve_assignee(request, data["assignee"])
            if data["action"] == "assign"
            else None,
            to_stage=stage,
            substatus=substatus,
            resolution=data["resolution"],
        )
    except WorkflowError as exc:
        return _bulk_done(request, back_query, error=exc.message)
    text = f"{len(result.done)} alert{'s' if len(result.done) != 1 else ''} updated."
    if result.skipped:
        reasons = sorted(set(result.skipped.values()))
        text += f" {len(result.skipped)} skipped: {' / '.join(reasons[:3])}"
    return _bulk_done(request, back_query, success=text)


def _bulk_done(request: HttpRequest, query: str, *, error: str = "", success: str = ""):
    if request.htmx:
        filterset = _queue_filter(request, QueryDict(query))
        request.GET = QueryDict(query)
        context = _queue_context(request, filterset)
        context["bulk_message"] = {"error": error, "success": success}
        response = render(request, QUEUE_TEMPLATE + "#results", context)
        return trigger_client_event(response, CHANGED) if success else response
    (messages.error if error else messages.success)(request, error or success)
    return redirect(f"{reverse('alerts_app:alert_list')}?{query}")


# ---------------------------------------------------------------------------- detail


def _alert_or_404(request: HttpRequest, pk: int) -> Alert:
    try:
        return selectors.alert_detail(pk, request.user)
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc


def _detail_context(request: HttpRequest, alert: Alert, **forms) -> dict:
    timeline = selectors.alert_timeline(alert)
    locations = selectors.alert_locations(timeline)
    asn = selectors.alert_asn(alert)
    now = timezone.now()
    user = request.user
    return {
        "alert": alert,
        "now": now,
        "sla_state": alert.sla_state(now),
        "timeline": timeline,
        "locations": locations,
        "map_figure": charts.locations_map(locations),
        "topojson_url": charts.topojson_url(),
        "identity": alert.identity,
        "other_sessions": selectors.other_active_sessions(alert),
        "related": selectors.related_alerts(alert),
        "comments": alert.comments.select_related("author").prefetch_related("mentions"),
        "history": alert.history.all(),
        "questions": alert.owner_questions.select_related("owner"),
        "assignees": selectors.users_with_perm("alerts_app.triage_alert"),
        "can_triage": user.has_perm("alerts_app.triage_alert"),
        "can_reopen": user.has_perm("alerts_app.reopen_alert"),
        "can_accept": user.has_perm("alerts_app.accept_risk"),
        "can_suppress": user.has_perm("alerts_app.add_suppressionrule"),
        "transition_form": forms.get("transition_form") or TransitionForm(),
        "escalate_form": forms.get("escalate_form")
        or EscalateForm(
            initial={
                "level": max(alert.escalation_level, 0) + 1 if alert.escalation_level < 3 else 3
            }
        ),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "suppress_form": forms.get("suppress_form")
        or SuppressionForm(initial=SuppressionForm.initial_for(alert, asn)),
        "action_error": forms.get("action_error", ""),
        "action_done": forms.get("action_done", ""),
    }


@require_GET
@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, alert))


def _action_done(request: HttpRequest, pk: int, *, done: str = "", error: str = "", **forms):
    """After a detail-page action: the refreshed detail body for htmx, else redirect/re-render."""
    if request.htmx:
        alert = _alert_or_404(request, pk)
        context = _detail_context(request, alert, action_error=error, action_done=done, **forms)
        response = render(request, DETAIL_TEMPLATE + "#detail-body", context)
        return trigger_client_event(response, CHANGED) if done else response
    if error and forms:
        alert = _alert_or_404(request, pk)
        return render(
            request, DETAIL_TEMPLATE, _detail_context(request, alert, action_error=error, **forms)
        )
    (messages.error if error else messages.success)(request, error or done)
    return redirect("alerts_app:alert_detail", pk=pk)


@require_POST
@permission_required("alerts_app.triage_alert", raise_exception=True)
def alert_assign(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    form = AssignForm(request.POST)
    try:
        if not form.is_valid():
            raise WorkflowError("Choose who to assign.")
        assignee = _resolve_assignee(request, form.cleaned_data["assignee"])
        alert = services.alert_assign(alert=alert, assignee=assignee, actor=request.user)
    except WorkflowError as exc:
        if request.POST.get("next") == "row":
            return HttpResponse(exc.message, status=200, headers={"HX-Reswap": "none"})
        return _action_done(request, pk, error=exc.message)
    done = f"Assigned to {assignee.get_username()}." if assignee else "Unassigned."
    if request.POST.get("next") == "row" and request.htmx:
        response = render(
            request,
            QUEUE_TEMPLATE + "#row",
            {
                "a": selectors.queue_row(pk, request.user, now=timezone.now()),
                "can_triage": True,
                "seen": None,
                "alerts_url": reverse("alerts_app:alert_list"),
            },
        )
        return trigger_client_event(response, CHANGED)
    return _action_done(request, pk, done=done)


@require_POST
@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_transition(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        return _action_done(request, pk, error="Check the transition form.", transition_form=form)
    data = form.cleaned_data
    stage, substatus = split_target(data["target"])
    try:
        alert = services.alert_transition(
            alert=alert,
            to_stage=stage,
            substatus=substatus,
            actor=request.user,
            reason=data["reason"],
            resolution=data["resolution"] if stage == "closed" else "",
            duplicate_of=data["duplicate_of"],
            accepted_until=data["accepted_until"],
            approver=data["approver"],
        )
    except WorkflowError as exc:
        return _action_done(request, pk, error=exc.message, transition_form=form)
    label = alert.get_stage_display() + (
        f" — {alert.substatus.replace('_', ' ')}" if alert.substatus else ""
    )
    return _action_done(request, pk, done=f"Alert is now {label}.")


@require_POST
@permission_required("alerts_app.triage_alert", raise_exception=True)
def alert_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    form = EscalateForm(request.POST)
    if not form.is_valid():
        return _action_done(request, pk, error="Check the escalation form.", escalate_form=form)
    try:
        services.alert_escalate(alert=alert, actor=request.user, **form.cleaned_data)
    except WorkflowError as exc:
        return _action_done(request, pk, error=exc.message, escalate_form=form)
    return _action_done(request, pk, done=f"Escalated to {form.cleaned_data['to']}.")


@require_POST
@permission_required("alerts_app.triage_alert", raise_exception=True)
def alert_comment(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return _action_done(request, pk, error="Write a comment first.", comment_form=form)
    try:
        services.alert_comment(alert=alert, text=form.cleaned_data["text"], actor=request.user)
    except WorkflowError as exc:
        return _action_done(request, pk, error=exc.message, comment_form=form)
    return _action_done(request, pk, done="Comment added.")


@require_POST
@permission_required("alerts_app.add_suppressionrule", raise_exception=True)
def alert_suppress(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert_or_404(request, pk)
    form = SuppressionForm(request.POST)
    if not form.is_valid():
        return _action_done(request, pk, error="Check the suppression form.", suppress_form=form)
    data = form.cleaned_data
    try:
        rule = services.suppression_rule_create(
            alert=alert,
            reason=data["reason"],
            expires_at=data["expires_at"],
            actor=request.user,
            identity=alert.identity if data["match_identity"] else None,
            asn=data["asn"],
            country=data["country"],
            ip=data["ip"] or None,
        )
    except WorkflowError as exc:
        return _action_done(request, pk, error=exc.message, suppress_form=form)
    return _action_done(request, pk, done=f"Suppression rule #{rule.pk} created.")


# ---------------------------------------------------------------------------- saved views


@require_POST
@permission_required("alerts_app.view_alert", raise_exception=True)
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST)
    query = request.POST.get("query", "")
    if form.is_valid():
        try:
            services.saved_view_create(
                user=request.user, name=form.cleaned_data["name"], query=query, actor=request.user
            )
        except WorkflowError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"View {form.cleaned_data['name']!r} saved.")
    else:
        messages.error(request, "Name the view.")
    return redirect(f"{reverse('alerts_app:alert_list')}?{query}")


@require_POST
@permission_required("alerts_app.view_alert", raise_exception=True)
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=pk, user=request.user)
    services.saved_view_delete(view=view, actor=request.user)
    messages.success(request, f"View {view.name!r} deleted.")
    return redirect("alerts_app:alert_list")


# ---------------------------------------------------------------------------- suppressions, SLA


@require_GET
@permission_required("alerts_app.view_suppressionrule", raise_exception=True)
def suppression_list(request: HttpRequest) -> HttpResponse:
    rules = selectors.suppression_rule_list()
    return render(
        request,
        "alerts_app/suppression_list.html",
        {"page": paginate(request, rules, per_page=50), "now": timezone.now()},
    )


@require_POST
@permission_required("alerts_app.manage_suppressionrule", raise_exception=True)
def suppression_end(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(SuppressionRule, pk=pk)
    try:
        services.suppression_rule_end(
            rule=rule, actor=request.user, reason=request.POST.get("reason", "")
        )
    except WorkflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Suppression rule #{rule.pk} ended; its alerts are New again.")
    return redirect("alerts_app:suppression_list")


@permission_required("alerts_app.view_slapolicy", raise_exception=True)
def sla_matrix(request: HttpRequest) -> HttpResponse:
    can_edit = request.user.has_perm("alerts_app.change_slapolicy")
    if request.method == "POST" and not can_edit:
        return HttpResponse("You may not change the SLA matrix.", status=403)
    form = SLAMatrixForm(request.POST or None, matrix=selectors.sla_matrix())
    if request.method == "POST" and form.is_valid():
        try:
            services.sla_policy_set(matrix=form.matrix(), actor=request.user)
        except WorkflowError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "SLA matrix saved; it applies to alerts raised from now on.")
            return redirect("alerts_app:sla_matrix")
    return render(request, "alerts_app/sla_matrix.html", {"form": form, "can_edit": can_edit})


# ---------------------------------------------------------------------------- notifications


@permission_required("alerts_app.view_alert", raise_exception=True)
def notification_settings(request: HttpRequest) -> HttpResponse:
    pref = NotificationPreference.objects.filter(user=request.user).first()
    initial = (
        {"digest": pref.digest, "email": pref.email, "webhook_url": pref.webhook_url}
        if pref
        else {"digest": False, "email": True}
    )
    form = NotificationPreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.notification_preference_set(
            user=request.user, actor=request.user, **form.cleaned_data
        )
        messages.success(request, "Notification settings saved.")
        return redirect("alerts_app:notification_settings")
    recent = Notification.objects.filter(recipient=request.user).select_related("alert")[:50]
    return render(
        request, "alerts_app/notification_settings.html", {"form": form, "recent": recent}
    )


@login_not_required
def owner_answer(request: HttpRequest, token: str) -> HttpResponse:
    """The public "was this you?" page a response owner reaches from the signed link."""
    try:
        question = notifications.owner_question_from_token(token)
    except (signing.BadSignature, KeyError, ValueError) as exc:
        raise Http404("This link is invalid or has expired.") from exc
    except OwnerQuestion.DoesNotExist as exc:
        raise Http404("This question no longer exists.") from exc
    form = OwnerAnswerForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.owner_question_answer(question=question, **form.cleaned_data)
        except WorkflowError as exc:
            error = exc.message
        else:
            question.refresh_from_db()
    return render(
        request,
        "alerts_app/owner_answer.html",
        {"question": question, "alert": question.alert, "form": form, "error": error},
    )


# ---------------------------------------------------------------------------- detectors


@permission_required("alerts_app.view_detectorconfig", raise_exception=True)
def detector_list(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts_app/detector_list.html", {"rows": selectors.detector_rows()})


@permission_required("alerts_app.change_detectorconfig", raise_exception=True)
def detector_edit(request: HttpRequest, detector_id: str) -> HttpResponse:
    if detector_id not in REGISTRY:
        raise Http404("No such detector.")
    row = next(r for r in selectors.detector_rows() if r.detector.id == detector_id)
    form = DetectorConfigForm(
        request.POST or None,
        detector=row.detector,
        initial_params=row.params,
        initial={"enabled": row.enabled},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.detector_configure(
                detector_id=detector_id,
                enabled=form.cleaned_data["enabled"],
                params=form.params(),
                actor=request.user,
                client_ip=client_ip_of(request),
            )
        except ParamsError as exc:
            for name, problem in exc.errors.items():
                form.add_error(name if name in form.fields else None, problem)
        else:
            messages.success(request, f"{row.detector.spec.title}: saved.")
            return redirect("alerts_app:detector_list")
    return render(request, "alerts_app/detector_form.html", {"row": row, "form": form})
