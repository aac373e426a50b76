"""SSF transmitter endpoints (metadata, JWKS, stream management, poll) and the admin page.

The receiver-facing endpoints speak JSON, authenticate receivers by bearer token
(``Authorization: Bearer …``, never a query parameter) and answer errors as
``{"err": …, "description": …}``. Views translate; ``services`` decide.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

import django_filters
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from govern.pagination import paginate

from ..models import (
    SsfDeliveryMethod,
    SsfEvent,
    SsfEventStatus,
    SsfReceiver,
    SsfSigningKey,
    SsfStream,
    SsfStreamStatus,
)
from . import services, tokens
from .services import SsfError


def _error(exc: SsfError) -> JsonResponse:
    response = JsonResponse({"err": exc.err, "description": exc.description}, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ssf"'
    return response


def _receiver_api(view: Callable) -> Callable:
    """Bearer-authenticated, CSRF-exempt JSON endpoint; SsfError becomes its JSON error."""

    @login_not_required
    @csrf_exempt
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        receiver = services.receiver_for_token(token)
        try:
            if receiver is None:
                raise SsfError(
                    "A valid receiver bearer token is required.",
                    status=401,
                    err="authentication_failed",
                )
            return view(request, receiver, *args, **kwargs)
        except SsfError as exc:
            return _error(exc)

    return wrapped


def _json_body(request: HttpRequest) -> object:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SsfError("The request body is not valid JSON.") from exc


def _stream_of(receiver: SsfReceiver, stream_id: object) -> SsfStream:
    if not isinstance(stream_id, str) or not stream_id:
        raise SsfError("stream_id is required.")
    stream = (
        SsfStream.objects.select_related("receiver")
        .filter(receiver=receiver, stream_id=stream_id)
        .first()
    )
    if stream is None:  # another receiver's stream is as absent as a missing one
        raise SsfError("No such stream.", status=404, err="not_found")
    return stream


def _url(name: str) -> str:
    return services.issuer_url(reverse(name))


@login_not_required
@never_cache
@require_GET
def configuration(request: HttpRequest) -> JsonResponse:
    """Transmitter configuration metadata (SSF 1.0 §7.1)."""
    return JsonResponse(
        {
            "spec_version": "1_0",
            "issuer": tokens.issuer(),
            "jwks_uri": _url("ssf:jwks"),
            "delivery_methods_supported": list(SsfDeliveryMethod.values),
            "configuration_endpoint": _url("ssf:streams"),
            "status_endpoint": _url("ssf:status"),
            "verification_endpoint": _url("ssf:verify"),
            # Receivers hold bearer tokens an admin issued (RFC 6750), not OAuth grants.
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6750"}],
            "default_subjects": "ALL",
        }
    )


@login_not_required
@never_cache
@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The public signing keys, including not-yet-retired older keys after a rotation."""
    return JsonResponse(services.jwks())


@_receiver_api
@require_http_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
def streams(request: HttpRequest, receiver: SsfReceiver) -> HttpResponse:
    """Stream management (SSF 1.0 §8.1.1): create, read, update, replace, delete."""
    label = f"ssf-receiver:{receiver.name}"
    if request.method == "POST":
        stream = services.ssf_stream_create(
            receiver=receiver, config=_json_body(request), actor_label=label
        )
        return JsonResponse(services.stream_config(stream), status=201)
    if request.method == "GET":
        stream_id = request.GET.get("stream_id")
        if stream_id is not None:
            return JsonResponse(services.stream_config(_stream_of(receiver, stream_id)))
        rows = receiver.streams.select_related("receiver").order_by("created_at")
        return JsonResponse([services.stream_config(s) for s in rows], safe=False)
    if request.method == "DELETE":
        stream = _stream_of(receiver, request.GET.get("stream_id"))
        services.ssf_stream_delete(stream=stream, actor_label=label)
        return HttpResponse(status=204)
    body = _json_body(request)
    stream = _stream_of(receiver, body.get("stream_id") if isinstance(body, dict) else None)
    stream = services.ssf_stream_update(
        stream=stream, config=body, replace=request.method == "PUT", actor_label=label
    )
    return JsonResponse(services.stream_config(stream))


@_receiver_api
@require_http_methods(["GET", "POST"])
def status(request: HttpRequest, receiver: SsfReceiver) -> JsonResponse:
    """Read or change a stream's status (SSF 1.0 §8.1.2)."""
    if request.method == "GET":
        stream = _stream_of(receiver, request.GET.get("stream_id"))
    else:
        body = _json_body(request)
        if not isinstance(body, dict):
            raise SsfError("The request body must be a JSON object.")
        stream = services.ssf_stream_set_status(
            stream=_stream_of(receiver, body.get("stream_id")),
            status=body.get("status", ""),
            reason=body.get("reason", ""),
            actor_label=f"ssf-receiver:{receiver.name}",
            by_transmitter=False,
        )
    result = {"stream_id": stream.stream_id, "status": stream.status}
    if stream.status_reason:
        result["reason"] = stream.status_reason
    return JsonResponse(result)


@_receiver_api
@require_POST
def verify(request: HttpRequest, receiver: SsfReceiver) -> HttpResponse:
    """Ask for a verification SET echoing ``state`` (SSF 1.0 §8.1.4); 204, SET follows."""
    body = _json_body(request)
    if not isinstance(body, dict):
        raise SsfError("The request body must be a JSON object.")
    services.ssf_stream_verify(
        stream=_stream_of(receiver, body.get("stream_id")),
        state=body.get("state"),
        actor_label=f"ssf-receiver:{receiver.name}",
    )
    return HttpResponse(status=204)


@_receiver_api
@require_POST
def poll(request: HttpRequest, receiver: SsfReceiver, stream_id: str) -> JsonResponse:
    """RFC 8936 poll: acknowledge, report errors, receive up to maxEvents SETs."""
    stream = _stream_of(receiver, stream_id)
    result = services.ssf_poll(
        stream=stream,
        request=services.PollRequest.parse(_json_body(request)),
        actor_label=f"ssf-receiver:{receiver.name}",
    )
    return JsonResponse(result)


# --- admin page ----------------------------------------------------------------------------


class ReceiverForm(forms.Form):
    name = forms.CharField(max_length=200)
    audience = forms.CharField(
        max_length=500, help_text="The receiver's identifier, e.g. https://app.example.net/caep"
    )


class StreamStatusForm(forms.Form):
    status = forms.ChoiceField(choices=SsfStreamStatus.choices)
    reason = forms.CharField(max_length=500, required=False)


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SsfEventStatus.choices)
    stream = django_filters.ModelChoiceFilter(
        queryset=SsfStream.objects.select_related("receiver"), to_field_name="stream_id"
    )

    class Meta:
        model = SsfEvent
        fields = ["status", "stream"]


def _admin_page(request: HttpRequest, *, receiver_form=None, new_token: str = "") -> HttpResponse:
    filterset = DeliveryFilter(
        request.GET, queryset=SsfEvent.objects.select_related("stream", "stream__receiver")
    )
    deliveries = filterset.qs if filterset.is_valid() else SsfEvent.objects.none()
    current = SsfSigningKey.objects.filter(retired_at__isnull=True).first()
    context = {
        "receivers": SsfReceiver.objects.all(),
        "streams": SsfStream.objects.select_related("receiver"),
        "keys": SsfSigningKey.objects.all(),
        "current_kid": current.kid if current else "",
        "filter": filterset,
        "page": paginate(request, deliveries, per_page=50),
        "receiver_form": receiver_form or ReceiverForm(),
        "status_choices": SsfStreamStatus.choices,
        "new_token": new_token,
        "configuration_url": _url("ssf:configuration"),
    }
    template = "alerts_app/ssf_admin.html"
    if request.htmx and not request.htmx.boosted:
        template += "#deliveries"
    return render(request, template, context)


@permission_required("alerts_app.view_ssfstream", raise_exception=True)
@require_GET
def admin_page(request: HttpRequest) -> HttpResponse:
    """Receivers, streams, signing keys and the delivery log."""
    return _admin_page(request)


@permission_required("alerts_app.change_ssfstream", raise_exception=True)
@require_POST
def receiver_register(request: HttpRequest) -> HttpResponse:
    form = ReceiverForm(request.POST)
    if form.is_valid():
        try:
            receiver, token = services.ssf_receiver_register(
                name=form.cleaned_data["name"],
                audience=form.cleaned_data["audience"],
                actor=request.user,
            )
        except SsfError as exc:
            form.add_error(None, exc.description)
        else:
            messages.success(request, f"Receiver {receiver.name} registered.")
            # The token is shown on this response only; it is stored hashed.
            return _admin_page(request, new_token=token)
    return _admin_page(request, receiver_form=form)


@permission_required("alerts_app.change_ssfstream", raise_exception=True)
@require_POST
def receiver_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    receiver = get_object_or_404(SsfReceiver, pk=pk)
    services.ssf_receiver_deactivate(receiver=receiver, actor=request.user)
    messages.success(request, f"Receiver {receiver.name} deactivated; its streams are disabled.")
    return redirect("ssf:admin")


@permission_required("alerts_app.change_ssfstream", raise_exception=True)
@require_POST
def stream_status(request: HttpRequest, pk: int) -> HttpResponse:
    stream = get_object_or_404(SsfStream, pk=pk)
    form = StreamStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose enabled, paused or disabled.")
        return redirect("ssf:admin")
    services.ssf_stream_set_status(
        stream=stream,
        status=form.cleaned_data["status"],
        reason=form.cleaned_data["reason"],
        actor=request.user,
        by_transmitter=True,
    )
    messages.success(request, f"Stream {stream.stream_id[:8]}… is {form.cleaned_data['status']}.")
    return redirect("ssf:admin")


@permission_required("alerts_app.change_ssfstream", raise_exception=True)
@require_POST
def key_rotate(request: HttpRequest) -> HttpResponse:
    key = services.ssf_signing_key_rotate(actor=request.user)
    messages.success(request, f"New signing key {key.kid}; older keys stay published till retired.")
    return redirect("ssf:admin")


@permission_required("alerts_app.change_ssfstream", raise_exception=True)
@require_POST
def key_retire(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(SsfSigningKey, pk=pk)
    try:
        services.ssf_signing_key_retire(key=key, actor=request.user)
    except SsfError as exc:
        messages.error(request, exc.description)
    else:
        messages.success(request, f"Key {key.kid} retired and no longer published.")
    return redirect("ssf:admin")
