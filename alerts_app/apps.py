from django.apps import AppConfig


class AlertsAppConfig(AppConfig):
    name = "alerts_app"
    verbose_name = "Alerts and response"

    def ready(self) -> None:
        from sessions_app.signals import events_ingested

        from .signals import revocation_succeeded
        from .ssf.tasks import on_revocation_succeeded
        from .tasks import on_events_ingested

        events_ingested.connect(on_events_ingested, dispatch_uid="alerts_app.detect_on_ingest")
        revocation_succeeded.connect(
            on_revocation_succeeded, dispatch_uid="alerts_app.ssf_announce_revocation"
        )
