"""Alert and detector pages. Views translate; selectors and services decide."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from govern.audit import client_ip_of
from govern.pagination import paginate

from . import selectors, services
from .detectors import REGISTRY
from .detectors.base import ParamsError
from .filtersets import AlertFilter
from .forms import DetectorConfigForm
from .models import Alert


@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_list(request: HttpRequest) -> HttpResponse:
    filterset = AlertFilter(request.GET, queryset=selectors.alert_list())
    rows = filterset.qs if filterset.is_valid() else Alert.objects.none()
    template = "alerts_app/alert_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(
        request, template, {"filter": filterset, "page": paginate(request, rows, per_page=50)}
    )


@permission_required("alerts_app.view_alert", raise_exception=True)
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        alert = selectors.alert_detail(pk)
    except Alert.DoesNotExist as exc:
        raise Http404("No such alert.") from exc
    return render(
        request,
        "alerts_app/alert_detail.html",
        {"alert": alert, "history": alert.history.select_related("actor")},
    )


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
