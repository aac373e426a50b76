"""OpenAPI generation: every operation documents the JSON error body it can answer with."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="invalid, conflict, not_found, permission_denied…")
    message = serializers.CharField(help_text="What went wrong, in words for people.")
    details = serializers.DictField(
        required=False, help_text="Per-field messages of a validation error."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


ERRORS = {
    "400": "Invalid input, or a rule refused it (see error.message).",
    "401": "No valid token: send `Authorization: Token <key>`.",
    "403": "The token's user lacks the permission the matching page requires.",
    "404": "No such object.",
    "405": "Method not allowed.",
    "406": "Only application/json responses are offered.",
    "409": "The object's current state does not allow this (e.g. a workflow rule).",
    "415": "Send application/json.",
    "429": "Rate limit of this token reached; retry after the Retry-After seconds.",
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the shared error responses on every operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description),
                    code,
                    direction=direction,
                )
        return responses
