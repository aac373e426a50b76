from django.urls import path

from . import views

app_name = "sessions_app"

urlpatterns = [
    path("identities/", views.identity_list, name="identity_list"),
    path("identities/<int:pk>/", views.identity_detail, name="identity_detail"),
    path("sessions/", views.session_list, name="session_list"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("events/", views.event_list, name="event_list"),
    path("sources/", views.source_list, name="source_list"),
    path("sources/new/", views.source_create, name="source_create"),
    path("sources/<int:pk>/", views.source_detail, name="source_detail"),
    path("sources/<int:pk>/edit/", views.source_edit, name="source_edit"),
    path("sources/<int:pk>/toggle/", views.source_toggle, name="source_toggle"),
    path("sources/<int:pk>/test/", views.source_test, name="source_test"),
    path("sources/<int:pk>/import/", views.source_import, name="source_import"),
    path("sources/<int:pk>/quarantine/retry/", views.quarantine_retry, name="quarantine_retry"),
]
