"""Top-level URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_log_list, name="audit_log"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("", include("sessions_app.urls")),
    path("policies/", include("sessions_app.policy_urls")),
    path("", include("alerts_app.urls")),
    path("", include("alerts_app.revocation.urls")),
    path("", include("sessions_app.urls_webhooks")),
    path("", include("govern.compliance.urls")),
    path("", include("alerts_app.ssf.urls")),
    path("api/", include("govern.api.urls")),
    path("admin/", admin.site.urls),
]
