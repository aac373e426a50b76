"""Enumerations shared by the sessions domain, parsers and detectors."""

from django.db import models


class IdentityKind(models.TextChoices):
    HUMAN = "human", "Human"
    SERVICE_ACCOUNT = "service_account", "Service account"
    API_KEY = "api_key", "API key"
    OAUTH_APP = "oauth_app", "OAuth app"
    WORKLOAD = "workload", "Workload"
    AI_AGENT = "ai_agent", "AI agent"

    @classmethod
    def non_human(cls) -> list[str]:
        return [k for k in cls.values if k != cls.HUMAN]


class PrivilegeTier(models.TextChoices):
    STANDARD = "standard", "Standard"
    PRIVILEGED = "privileged", "Privileged"
    BREAK_GLASS = "break_glass", "Break-glass"


class IdentityStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    OFFBOARDED = "offboarded", "Offboarded"


class SourceKind(models.TextChoices):
    OKTA = "okta", "Okta"
    ENTRA = "entra", "Microsoft Entra ID"
    GOOGLE = "google", "Google Workspace"
    WEBHOOK = "webhook", "Webhook (push)"
    FILE = "file", "File import"

    @classmethod
    def pulled(cls) -> list[str]:
        return [cls.OKTA, cls.ENTRA, cls.GOOGLE]


class TokenKind(models.TextChoices):
    BROWSER_SESSION = "browser_session", "Browser session"
    REFRESH_TOKEN = "refresh_token", "Refresh token"
    ACCESS_TOKEN = "access_token", "Access token"
    API_TOKEN = "api_token", "API token"
    OAUTH_GRANT = "oauth_grant", "OAuth grant"


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class EventType(models.TextChoices):
    """Normalised event types, aligned with OCSF Authentication (3002) activities."""

    LOGON = "logon", "Logon"
    LOGOFF = "logoff", "Logoff"
    MFA_CHALLENGE = "mfa_challenge", "MFA challenge"
    SESSION_ACTIVITY = "session_activity", "Session activity"
    SSO = "sso", "App sign-on (SSO)"
    TOKEN_ISSUED = "token_issued", "Token issued"
    TOKEN_REFRESH = "token_refresh", "Token refreshed"
    TOKEN_REVOKED = "token_revoked", "Token revoked"
    SESSION_REVOKED = "session_revoked", "Session revoked"
    SESSION_EXPIRED = "session_expired", "Session expired"
    CREDENTIAL_CHANGE = "credential_change", "Password or MFA change/reset"
    PRIVILEGED_ACTION = "privileged_action", "High-value action"
    RISK_SIGNAL = "risk_signal", "IdP risk signal"
    OTHER = "other", "Other"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    CHALLENGE = "challenge", "Challenge"
    UNKNOWN = "unknown", "Unknown"


class HighValueAction(models.TextChoices):
    PRIVILEGE_GRANT = "privilege_grant", "Privilege grant"
    ADMIN_CONSOLE = "admin_console", "Admin console access"
    DATA_EXPORT = "data_export", "Data export"
    POLICY_CHANGE = "policy_change", "Policy change"
    CREDENTIAL_CREATE = "credential_create", "Credential / key creation"
