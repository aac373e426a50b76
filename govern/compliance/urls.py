from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("compliance/", views.report, name="report"),
    path("compliance/export.csv", views.export_csv, name="export_csv"),
    path("compliance/report.pdf", views.export_pdf, name="export_pdf"),
    path("compliance/mappings/", views.mapping_list, name="mapping_list"),
    path("compliance/mappings/new/", views.mapping_create, name="mapping_create"),
    path("compliance/mappings/<int:pk>/", views.mapping_edit, name="mapping_edit"),
    path("compliance/mappings/<int:pk>/delete/", views.mapping_delete, name="mapping_delete"),
    path("compliance/controls/<int:pk>/", views.control_drilldown, name="control"),
    path("compliance/<str:slug>/", views.framework_detail, name="framework"),
    path("compliance/<str:slug>/ciso-assistant.yaml", views.export_ciso, name="export_ciso"),
]
