"""Logins, logouts and failed logins go into the audit log."""

from .audit import audit_log, client_ip_of


def on_login(sender, request, user, **kwargs) -> None:
    audit_log(actor=user, verb="auth.login", obj=user, client_ip=client_ip_of(request))


def on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_log(actor=user, verb="auth.logout", obj=user, client_ip=client_ip_of(request))


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    audit_log(
        actor_label=f"anonymous:{str(credentials.get('username', ''))[:100]}",
        verb="auth.login_failed",
        client_ip=client_ip_of(request),
    )
