"""The three roles as groups with explicit permissions, synchronised after every migrate.

Views check permissions (never group names), so a deployment can add its own groups.
Each later module adds its permissions here; ``sync_roles`` fails loudly if one is missing.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ANALYST = "Analyst"
MANAGER = "Manager"
ADMIN = "Admin"
ROLES = (ANALYST, MANAGER, ADMIN)

_READ = [
    "sessions_app.view_identity",
    "sessions_app.view_session",
    "sessions_app.view_telemetryevent",
    "sessions_app.view_owner",
    "alerts_app.view_alert",
    "alerts_app.view_revocation",
    "sessions_app.view_sessionlifetimepolicy",
]

_TRIAGE_READ = ["alerts_app.view_suppressionrule", "alerts_app.view_slapolicy"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ANALYST: [
        *_READ,
        *_TRIAGE_READ,
        "alerts_app.triage_alert",
        "alerts_app.add_suppressionrule",
        "alerts_app.request_revocation",
    ],
    MANAGER: [
        *_READ,
        "sessions_app.view_source",
        "sessions_app.view_auditevent",
        "sessions_app.view_quarantinedevent",
        "alerts_app.view_detectorconfig",
        "alerts_app.view_ssfstream",
        *_TRIAGE_READ,
        "alerts_app.reopen_alert",
        "alerts_app.accept_risk",
        "govern.view_reports",
        "alerts_app.approve_revocation",
    ],
    ADMIN: [
        *_READ,
        "sessions_app.view_source",
        "sessions_app.add_source",
        "sessions_app.change_source",
        "sessions_app.view_auditevent",
        "sessions_app.view_quarantinedevent",
        "sessions_app.change_quarantinedevent",
        "sessions_app.add_owner",
        "sessions_app.change_owner",
        "sessions_app.change_identity",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "alerts_app.view_detectorconfig",
        "alerts_app.change_detectorconfig",
        "sessions_app.add_sessionlifetimepolicy",
        "sessions_app.change_sessionlifetimepolicy",
        "alerts_app.view_ssfstream",
        "alerts_app.change_ssfstream",
        *_TRIAGE_READ,
        "alerts_app.triage_alert",
        "alerts_app.reopen_alert",
        "alerts_app.accept_risk",
        "alerts_app.add_suppressionrule",
        "alerts_app.manage_suppressionrule",
        "alerts_app.change_slapolicy",
        "govern.view_reports",
        "govern.change_controlmapping",
        "alerts_app.request_revocation",
        "alerts_app.approve_revocation",
    ],
}


def _permission(dotted: str) -> Permission:
    app_label, codename = dotted.split(".", 1)
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist as exc:
        raise LookupError(f"Role permission {dotted} does not exist.") from exc


def sync_roles() -> None:
    """Create or update the role groups so they hold exactly their listed permissions."""
    for role, dotted_names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([_permission(name) for name in dotted_names])


def sync_roles_after_migrate(sender, **kwargs) -> None:
    """post_migrate handler: run once, after the last app with models has its permissions."""
    from django.apps import apps

    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender is with_models[-1]:
        sync_roles()


def role_of(user) -> str:
    """The highest role a user holds ('' for none); superusers count as Admin."""
    if not user.is_authenticated:
        return ""
    if user.is_superuser:
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))
    for role in (ADMIN, MANAGER, ANALYST):
        if role in names:
            return role
    return ""
