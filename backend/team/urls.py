from django.urls import path

from . import views

app_name = "team"

urlpatterns = [
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
