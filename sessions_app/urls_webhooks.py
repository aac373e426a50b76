"""Push endpoints, outside the logged-in UI (included at the site root by govern/urls.py)."""

from django.urls import path

from . import webhooks

app_name = "hooks"

urlpatterns = [
    path("hooks/<int:source_id>/", webhooks.receive, name="receive"),
]
