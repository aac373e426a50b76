from django.apps import AppConfig


class GovernConfig(AppConfig):
    name = "govern"
    verbose_name = "govern"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import post_migrate

        from . import roles, signals

        post_migrate.connect(roles.sync_roles_after_migrate, dispatch_uid="govern.sync_roles")
        user_logged_in.connect(signals.on_login)
        user_logged_out.connect(signals.on_logout)
        user_login_failed.connect(signals.on_login_failed)
