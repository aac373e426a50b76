"""API endpoints. They parse JSON, check the page's permission, call the page's service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied as ApiPermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from alerts_app import services as alert_services
from alerts_app.filtersets import AlertFilter
from alerts_app.models import Alert, AlertHistory, Comment, Revocation
from alerts_app.revocation import selectors as revocation_selectors
from alerts_app.revocation import services as revocation_services
from govern.audit import client_ip_of

from . import serializers as s
from .exceptions import Conflict, Invalid
from .permissions import ActionPermission

VIEW_ALERT = "alerts_app.view_alert"
TRIAGE = "alerts_app.triage_alert"
VIEW_REVOCATION = "alerts_app.view_revocation"
REQUEST_REVOCATION = "alerts_app.request_revocation"
APPROVE_REVOCATION = "alerts_app.approve_revocation"

WORKFLOW_PERMISSION_MESSAGE = "You do not have permission to do this."


class QueueFilterBackend(DjangoFilterBackend):
    """The alert page's FilterSet with the page's default: open alerts unless ``status`` is
    given (``status=`` with no value lists every status)."""

    def get_filterset_kwargs(self, request, queryset, view) -> dict:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        data = kwargs["data"].copy()
        if "status" not in data:
            data["status"] = "open"
        kwargs["data"] = data
        return kwargs


@extend_schema_view(
    list=extend_schema(
        summary="List alerts with the alert page's filters",
        description="Same filters as the alert queue, with its default: open alerts unless "
        "`status` is given (`status=` lists every status).",
    ),
    retrieve=extend_schema(summary="One alert with evidence, history and comments"),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts: list and get (view_alert), assign/transition/comment (the triage services)."""

    permission_classes = [ActionPermission]
    action_permissions = {
        "list": VIEW_ALERT,
        "retrieve": VIEW_ALERT,
        "assign": TRIAGE,
        # As on the page: anyone who sees the alert may ask; the service decides which moves
        # each role may make (re-open, approve risk acceptance, triage).
        "transition": VIEW_ALERT,
        "comment": TRIAGE,
    }
    filter_backends = [QueueFilterBackend]
    filterset_class = AlertFilter
    serializer_class = s.AlertSerializer
    queryset = Alert.objects.none()  # for the schema; get_queryset restricts per user

    def get_queryset(self):
        rows = Alert.objects.restrict(self.request.user, "view").select_related(
            "identity", "session", "source", "assignee"
        )
        if self.action == "retrieve":
            rows = rows.prefetch_related(
                Prefetch("history", queryset=AlertHistory.objects.order_by("at", "id")),
                Prefetch("comments", queryset=Comment.objects.order_by("created_at", "id")),
            )
        return rows

    def filter_queryset(self, queryset):
        # The queue's filters (and its open-only default) narrow the list, not a lookup by id.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.AlertDetailSerializer
        return super().get_serializer_class()

    def _alert_for_action(self) -> Alert:
        return self.get_object()

    def _detail(self, alert: Alert) -> Response:
        fresh = (
            Alert.objects.select_related("identity", "session", "source", "assignee")
            .prefetch_related("history", "comments")
            .get(pk=alert.pk)
        )
        return Response(s.AlertDetailSerializer(fresh).data)

    @extend_schema(
        summary="Assign (or unassign) an alert",
        request=s.AssignSerializer,
        responses={200: s.AlertDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        alert = self._alert_for_action()
        data = self._valid(s.AssignSerializer, request)
        with _service_errors():
            alert_services.alert_assign(alert=alert, assignee=data["assignee"], actor=request.user)
        return self._detail(alert)

    @extend_schema(
        summary="Move an alert to another stage",
        request=s.TransitionSerializer,
        responses={200: s.AlertDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        alert = self._alert_for_action()
        data = self._valid(s.TransitionSerializer, request)
        with _service_errors():
            alert_services.alert_transition(alert=alert, actor=request.user, **data)
        return self._detail(alert)

    @extend_schema(
        summary="Comment on an alert",
        request=s.CommentCreateSerializer,
        responses={201: s.CommentSerializer},
    )
    @action(detail=True, methods=["post"])
    def comment(self, request: Request, pk: str) -> Response:
        alert = self._alert_for_action()
        data = self._valid(s.CommentCreateSerializer, request)
        with _service_errors():
            comment = alert_services.alert_comment(
                alert=alert, text=data["text"], actor=request.user
            )
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    def _valid(self, serializer_class, request: Request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema_view(
    retrieve=extend_schema(summary="One revocation with its targets and state"),
)
class RevocationViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Revocations: request (analysts), approve or reject (a second manager/admin), get."""

    permission_classes = [ActionPermission]
    action_permissions = {
        "retrieve": VIEW_REVOCATION,
        "create": REQUEST_REVOCATION,
        "approve": APPROVE_REVOCATION,
        "reject": APPROVE_REVOCATION,
    }
    serializer_class = s.RevocationSerializer
    queryset = Revocation.objects.none()

    def get_queryset(self):
        return revocation_selectors.revocation_list().prefetch_related("targets__source")

    def _detail(self, revocation: Revocation, *, code: int = 200) -> Response:
        return Response(
            s.RevocationSerializer(self.get_queryset().get(pk=revocation.pk)).data, status=code
        )

    @extend_schema(
        summary="Request a revocation (approved at once, or pending a second person)",
        request=s.RevocationRequestSerializer,
        responses={201: s.RevocationSerializer},
    )
    def create(self, request: Request) -> Response:
        serializer = s.RevocationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _service_errors():
            revocation = revocation_services.revocation_request(
                scope=data["scope"],
                identity=data["identity"],
                session=data["session"],
                alert=data["alert"],
                reason=data["reason"],
                actor=request.user,
                idempotency_key=data.get("idempotency_key"),
                client_ip=client_ip_of(request),
            )
        return self._detail(revocation, code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve a pending revocation (not your own)",
        request=s.ApproveSerializer,
        responses={200: s.RevocationSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        revocation = self.get_object()
        serializer = s.ApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_errors(state_conflict=True):
            revocation = revocation_services.revocation_approve(
                revocation=revocation,
                actor=request.user,
                note=serializer.validated_data["note"],
                client_ip=client_ip_of(request),
            )
        return self._detail(revocation)

    @extend_schema(
        summary="Reject a pending revocation with a reason (not your own)",
        request=s.RejectSerializer,
        responses={200: s.RevocationSerializer},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        revocation = self.get_object()
        serializer = s.RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_errors(state_conflict=True):
            revocation = revocation_services.revocation_reject(
                revocation=revocation,
                actor=request.user,
                reason=serializer.validated_data["reason"],
                client_ip=client_ip_of(request),
            )
        return self._detail(revocation)


@contextmanager
def _service_errors(*, state_conflict: bool = False) -> Iterator[None]:
    """Turn the services' refusals into API errors carrying their message.

    PermissionDenied → 403; WorkflowError → 409 (the alert's state forbids it) or 403 for
    its missing-permission refusal; ValueError →
    400, or 409 when ``state_conflict`` (the revocation is no longer pending).
    """
    try:
        yield
    except PermissionDenied as exc:
        raise ApiPermissionDenied(str(exc)) from exc
    except alert_services.WorkflowError as exc:
        # The triage services report a missing permission as a WorkflowError with this text.
        if exc.message == WORKFLOW_PERMISSION_MESSAGE:
            raise ApiPermissionDenied(exc.message) from exc
        raise Conflict(exc.message) from exc
    except ValueError as exc:
        raise (Conflict if state_conflict else Invalid)(str(exc)) from exc
