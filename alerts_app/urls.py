from django.urls import path

from . import views

app_name = "alerts_app"

urlpatterns = [
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/counts/", views.alert_counts, name="alert_counts"),
    path("alerts/poll/", views.alert_poll, name="alert_poll"),
    path("alerts/bulk/", views.alert_bulk, name="alert_bulk"),
    path("alerts/views/", views.saved_view_create, name="saved_view_create"),
    path("alerts/views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("alerts/suppressions/", views.suppression_list, name="suppression_list"),
    path("alerts/suppressions/<int:pk>/end/", views.suppression_end, name="suppression_end"),
    path("alerts/sla/", views.sla_matrix, name="sla_matrix"),
    path("alerts/notifications/", views.notification_settings, name="notification_settings"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("alerts/<int:pk>/assign/", views.alert_assign, name="alert_assign"),
    path("alerts/<int:pk>/transition/", views.alert_transition, name="alert_transition"),
    path("alerts/<int:pk>/escalate/", views.alert_escalate, name="alert_escalate"),
    path("alerts/<int:pk>/comment/", views.alert_comment, name="alert_comment"),
    path("alerts/<int:pk>/suppress/", views.alert_suppress, name="alert_suppress"),
    path("answer/<str:token>/", views.owner_answer, name="owner_answer"),
    path("detectors/", views.detector_list, name="detector_list"),
    path("detectors/<slug:detector_id>/", views.detector_edit, name="detector_edit"),
]
