"""SSF transmitter URLs; included at the site root (the metadata lives under /.well-known/)."""

from django.urls import path

from . import views

app_name = "ssf"

urlpatterns = [
    path(".well-known/ssf-configuration", views.configuration, name="configuration"),
    path("ssf/jwks.json", views.jwks, name="jwks"),
    path("ssf/streams", views.streams, name="streams"),
    path("ssf/status", views.status, name="status"),
    path("ssf/verify", views.verify, name="verify"),
    path("ssf/poll/<slug:stream_id>", views.poll, name="poll"),
    path("ssf/admin/", views.admin_page, name="admin"),
    path("ssf/admin/receivers/", views.receiver_register, name="receiver_register"),
    path(
        "ssf/admin/receivers/<int:pk>/deactivate",
        views.receiver_deactivate,
        name="receiver_deactivate",
    ),
    path("ssf/admin/streams/<int:pk>/status", views.stream_status, name="stream_status"),
    path("ssf/admin/keys/rotate", views.key_rotate, name="key_rotate"),
    path("ssf/admin/keys/<int:pk>/retire", views.key_retire, name="key_retire"),
]
