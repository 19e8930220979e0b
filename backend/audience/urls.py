from django.urls import path

from .views import fan_import_upload

urlpatterns = [
    path("imports/fans/<str:pool_id>", fan_import_upload, name="fan-import-upload"),
]
