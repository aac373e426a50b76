from django.urls import path

from . import views

app_name = "revocations"

urlpatterns = [
    path("revocations/", views.revocation_list, name="list"),
    path("revocations/new/", views.revocation_new, name="new"),
    path("revocations/<int:pk>/", views.revocation_detail, name="detail"),
    path("revocations/<int:pk>/status/", views.revocation_status, name="status"),
    path("revocations/<int:pk>/approve/", views.revocation_approve, name="approve"),
    path("revocations/<int:pk>/reject/", views.revocation_reject, name="reject"),
]
