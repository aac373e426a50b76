"""Every API error as JSON: {"error": {"status", "code", "message", "details"}}."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

log = logging.getLogger("govern.api")


class Conflict(exceptions.APIException):
    """The object's current state does not allow the requested change (e.g. a workflow rule)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class Invalid(exceptions.APIException):
    """A service refused the input (a rule the serializer cannot know, e.g. a missing source)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Invalid request."
    default_code = "invalid"


def _first_message(detail) -> str:
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            if message:
                return message if field == "non_field_errors" else f"{field}: {message}"
        return ""
    return str(detail)


def exception_handler(exc, context) -> Response | None:
    """DRF's handler, reshaped so clients read one ``error.message`` whatever went wrong."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug. Log it with its traceback (as Django would), undo the request's writes and
        # still answer JSON, so API clients never have to parse an HTML error page.
        view = context.get("view")
        log.error("Unhandled error in %s", view.__class__.__name__, exc_info=exc)
        set_rollback()
        return Response(
            {
                "error": {
                    "status": 500,
                    "code": "server_error",
                    "message": "Internal error; it has been logged.",
                }
            },
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
        message = _first_message(detail) or "Invalid request."
        details = detail if isinstance(detail, dict) else {"non_field_errors": detail}
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        message = _first_message(detail)
        details = {}
    body = {"error": {"status": response.status_code, "code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response.data = body
    return response
