from django.urls import path

from . import views

app_name = "alerts_app"

urlpatterns = [
    path("alerts/", views.alert_list, name="alert_list"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert_detail"),
    path("detectors/", views.detector_list, name="detector_list"),
    path("detectors/<slug:detector_id>/", views.detector_edit, name="detector_edit"),
]
