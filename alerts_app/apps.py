from django.apps import AppConfig


class AlertsAppConfig(AppConfig):
    name = "alerts_app"
    verbose_name = "Alerts and response"
