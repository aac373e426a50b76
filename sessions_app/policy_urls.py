"""Session-lifetime policy pages, included under /policies/ (namespace "policies")."""

from django.urls import path

from . import policy_views as views

app_name = "policies"

urlpatterns = [
    path("", views.policy_list, name="list"),
    path("new/", views.policy_create, name="create"),
    path("backtest/", views.policy_backtest, name="backtest"),
    path("explain/", views.policy_explain, name="explain"),
    path("<int:pk>/", views.policy_detail, name="detail"),
    path("<int:pk>/edit/", views.policy_edit, name="edit"),
    path("<int:pk>/backtest/", views.policy_backtest, name="backtest_existing"),
    path("<int:pk>/toggle/", views.policy_toggle, name="toggle"),
    path("<int:pk>/history/", views.policy_history, name="history"),
]
