"""JSON shapes of the API: read serializers for alerts and revocations, input serializers
for the actions. Input serializers validate types and references only; rules live in services.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from alerts_app.models import (
    Alert,
    AlertHistory,
    Comment,
    Resolution,
    Revocation,
    RevocationScope,
    RevocationTarget,
    Stage,
    Substatus,
)
from sessions_app.models import Identity, Session


def _active_users():
    return get_user_model().objects.filter(is_active=True)


class IdentityBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = ["id", "display_name", "login", "kind", "privilege_tier"]
        read_only_fields = fields


class SessionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Session
        fields = ["id", "session_key", "token_kind", "status", "last_seen_at"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    """An alert as the list shows it."""

    identity = IdentityBriefSerializer(read_only=True)
    session = SessionBriefSerializer(read_only=True, allow_null=True)
    source = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # Empty until set: declared so the document lists "" among the values.
    substatus = serializers.ChoiceField(choices=Substatus.choices, allow_blank=True, read_only=True)
    resolution = serializers.ChoiceField(
        choices=Resolution.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "title",
            "summary",
            "severity",
            "score",
            "detector_id",
            "detector_version",
            "stage",
            "substatus",
            "resolution",
            "identity",
            "session",
            "source",
            "assignee",
            "first_seen_at",
            "last_seen_at",
            "occurrences",
            "owasp_nhi",
            "nist_csf",
            "mitre_attack",
            "created_at",
            "updated_at",
            "closed_at",
        ]
        read_only_fields = fields


class AlertHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertHistory
        fields = ["at", "actor_label", "action", "from_stage", "to_stage", "reason", "details"]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_label", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class AlertDetailSerializer(AlertSerializer):
    """An alert with its evidence, score factors, history and comments."""

    history = AlertHistorySerializer(many=True, read_only=True)
    comments = CommentSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "factors", "evidence", "history", "comments"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=_active_users(),
        allow_null=True,
        help_text="Username of the new assignee; null unassigns.",
    )


class TransitionSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(max_length=2000, allow_blank=True, default="")
    substatus = serializers.ChoiceField(choices=Substatus.choices, allow_blank=True, default="")
    resolution = serializers.ChoiceField(choices=Resolution.choices, allow_blank=True, default="")
    duplicate_of = serializers.PrimaryKeyRelatedField(
        queryset=Alert.objects.all(), allow_null=True, default=None
    )
    accepted_until = serializers.DateTimeField(allow_null=True, default=None)
    approver = serializers.SlugRelatedField(
        slug_field="username", queryset=_active_users(), allow_null=True, default=None
    )


class CommentCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class RevocationTargetSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = RevocationTarget
        fields = [
            "source",
            "provider",
            "action",
            "status",
            "attempts",
            "last_error",
            "completed_at",
        ]
        read_only_fields = fields


class RevocationSerializer(serializers.ModelSerializer):
    identity = IdentityBriefSerializer(read_only=True)
    session = SessionBriefSerializer(read_only=True, allow_null=True)
    alert = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    approved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    rejected_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    targets = RevocationTargetSerializer(many=True, read_only=True)

    class Meta:
        model = Revocation
        fields = [
            "id",
            "scope",
            "identity",
            "session",
            "alert",
            "reason",
            "provider",
            "status",
            "requested_by_label",
            "requested_at",
            "approval_required",
            "approval_reasons",
            "approved_by",
            "approved_at",
            "approval_note",
            "rejected_by",
            "rejected_at",
            "rejection_reason",
            "started_at",
            "completed_at",
            "session_ids",
            "containment",
            "effective_at",
            "verify_until",
            "targets",
        ]
        read_only_fields = fields


class RevocationRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=RevocationScope.choices)
    identity = serializers.PrimaryKeyRelatedField(queryset=Identity.objects.all())
    session = serializers.PrimaryKeyRelatedField(
        queryset=Session.objects.select_related("source"), allow_null=True, default=None
    )
    alert = serializers.PrimaryKeyRelatedField(
        queryset=Alert.objects.all(), allow_null=True, default=None
    )
    reason = serializers.CharField(max_length=2000)
    idempotency_key = serializers.RegexField(
        r"^[0-9a-f]{32}$",
        required=False,
        help_text="32 lower-case hex characters; the same key returns the same revocation.",
    )

    def validate(self, data: dict) -> dict:
        scope, session, identity = data["scope"], data["session"], data["identity"]
        if scope in (RevocationScope.SESSION, RevocationScope.CREDENTIAL) and session is None:
            raise serializers.ValidationError({"session": "Choose the session or token to revoke."})
        if session is not None and session.identity_id != identity.pk:
            raise serializers.ValidationError(
                {"session": "The session belongs to another identity."}
            )
        alert = data["alert"]
        if alert is not None and alert.identity_id != identity.pk:
            raise serializers.ValidationError({"alert": "The alert is about another identity."})
        return data


class ApproveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, allow_blank=True, default="")


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
