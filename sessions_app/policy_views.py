"""Session-lifetime policy pages: list, create from a template, edit, backtest, history, and
the effective-policy explainer. Admins edit; managers and analysts read. Views translate;
``policy_services`` writes, ``policy_selectors``/``policies``/``policy_backtest`` read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from govern.audit import client_ip_of

from . import policy_selectors as selectors
from .models import Identity, Session, SessionLifetimePolicy
from .policies import PolicyResolver
from .policy_backtest import KIND_LABELS, KINDS, backtest
from .policy_forms import ExplainForm, PolicyForm, template_choices
from .policy_services import policy_create as create_policy
from .policy_services import policy_set_enabled, policy_update
from .policy_templates import AAL_LIMITS, ATTRIBUTION, GENERAL_RULES, REFERENCE_URL, TEMPLATES

VIEW = "sessions_app.view_sessionlifetimepolicy"
ADD = "sessions_app.add_sessionlifetimepolicy"
CHANGE = "sessions_app.change_sessionlifetimepolicy"


def _guidance() -> dict:
    return {
        "aal_limits": list(AAL_LIMITS.values()),
        "general_rules": GENERAL_RULES,
        "attribution": ATTRIBUTION,
        "reference_url": REFERENCE_URL,
        "backtest_kinds": [(k, KIND_LABELS[k]) for k in KINDS],
    }


def _add_service_errors(form: PolicyForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@permission_required(VIEW, raise_exception=True)
def policy_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sessions_app/policy_list.html",
        {"policies": selectors.policy_list(), "templates": template_choices(), **_guidance()},
    )


def _form_page(request, form: PolicyForm, policy: SessionLifetimePolicy | None, **extra):
    return render(
        request,
        "sessions_app/policy_form.html",
        {"form": form, "policy": policy, **_guidance(), **extra},
    )


@permission_required(ADD, raise_exception=True)
def policy_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                policy = create_policy(
                    values=form.values(),
                    actor=request.user,
                    comment=form.cleaned_data["comment"],
                    client_ip=client_ip_of(request),
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, f"Policy {policy.name} created (version 1).")
                return redirect("policies:detail", pk=policy.pk)
        return _form_page(request, form, None)
    key = request.GET.get("template", "aal2")
    template = TEMPLATES.get(key)
    if template is None:
        raise Http404("No such template.")
    form = PolicyForm(initial=PolicyForm.initial_from_template(template))
    return _form_page(request, form, None, template=template)


@permission_required(CHANGE, raise_exception=True)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SessionLifetimePolicy.objects.select_related("source"), pk=pk)
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                saved = policy_update(
                    policy=policy,
                    values=form.values(),
                    expected_version=form.cleaned_data.get("version") or 0,
                    actor=request.user,
                    comment=form.cleaned_data["comment"],
                    client_ip=client_ip_of(request),
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, f"Policy {saved.name} saved (version {saved.version}).")
                return redirect("policies:detail", pk=saved.pk)
        return _form_page(request, form, policy)
    form = PolicyForm(initial=PolicyForm.initial_from_policy(policy))
    return _form_page(request, form, policy)


@permission_required(CHANGE, raise_exception=True)
@require_POST
def policy_backtest(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Backtest the form's draft: the results panel for htmx, the whole form page otherwise."""
    policy = get_object_or_404(SessionLifetimePolicy, pk=pk) if pk else None
    form = PolicyForm(request.POST, for_backtest=True)
    result = backtest(form.draft(policy)) if form.is_valid() else None
    context = {"form": form, "policy": policy, "result": result, **_guidance()}
    template = "sessions_app/policy_form.html"
    if request.htmx:
        template += "#backtest"
    return render(request, template, context)


@permission_required(VIEW, raise_exception=True)
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SessionLifetimePolicy.objects.select_related("source"), pk=pk)
    versions = list(selectors.policy_history(policy)[:5])
    return render(
        request,
        "sessions_app/policy_detail.html",
        {
            "policy": policy,
            "versions": [(v, selectors.version_rows(v)) for v in versions],
            "enforcements": selectors.policy_enforcements(policy),
            "limits": AAL_LIMITS[policy.assurance_level],
            **_guidance(),
        },
    )


@permission_required(VIEW, raise_exception=True)
def policy_history(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SessionLifetimePolicy, pk=pk)
    versions = selectors.policy_history(policy)
    return render(
        request,
        "sessions_app/policy_history.html",
        {"policy": policy, "versions": [(v, selectors.version_rows(v)) for v in versions]},
    )


@permission_required(CHANGE, raise_exception=True)
@require_POST
def policy_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(SessionLifetimePolicy, pk=pk)
    try:
        expected = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, "The page was out of date; reload and try again.")
        return redirect("policies:detail", pk=policy.pk)
    try:
        saved = policy_set_enabled(
            policy=policy,
            enabled=not policy.enabled,
            expected_version=expected,
            actor=request.user,
            client_ip=client_ip_of(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        state = "enabled" if saved.enabled else "disabled"
        messages.success(request, f"Policy {saved.name} {state} (version {saved.version}).")
    return redirect("policies:detail", pk=policy.pk)


@permission_required(VIEW, raise_exception=True)
def policy_explain(request: HttpRequest) -> HttpResponse:
    """Which policy governs a session or identity, why, and every policy in precedence order."""
    form = ExplainForm(request.GET or None)
    subject = effective = None
    if form.is_valid():
        resolver = PolicyResolver.load()
        if form.cleaned_data.get("session"):
            subject = (
                Session.objects.select_related("identity", "source")
                .filter(pk=form.cleaned_data["session"])
                .first()
            )
            if subject is None:
                form.add_error("session", "No session with this id.")
            else:
                effective = resolver.for_session(subject)
        else:
            subject = Identity.objects.filter(pk=form.cleaned_data["identity"]).first()
            if subject is None:
                form.add_error("identity", "No identity with this id.")
            else:
                effective = resolver.for_identity(subject)
    return render(
        request,
        "sessions_app/policy_explain.html",
        {
            "form": form,
            "subject": subject,
            "effective": effective,
            "policies": selectors.policy_list(),
        },
    )
