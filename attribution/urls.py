from django.urls import path

from . import views

app_name = "attribution"

urlpatterns = [
    path("exports/<str:token>/", views.export_download, name="export-download"),
]
