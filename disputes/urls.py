from django.urls import path

from .views import attachment_download, attachment_upload

app_name = "disputes"

urlpatterns = [
    path("<str:dispute_id>/attachments", attachment_upload, name="attachment-upload"),
    path("attachments/<str:attachment_id>", attachment_download, name="attachment-download"),
]
