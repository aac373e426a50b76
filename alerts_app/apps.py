from django.apps import AppConfig


class AlertsAppConfig(AppConfig):
    name = "alerts_app"
    verbose_name = "Alerts and response"

    def ready(self) -> None:
        from sessions_app.signals import events_ingested

        from .tasks import on_events_ingested

        events_ingested.connect(on_events_ingested, dispatch_uid="alerts_app.detect_on_ingest")
