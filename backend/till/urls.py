from django.urls import path

from . import views

app_name = "till"

urlpatterns = [
    path("", views.index, name="index"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("pair", views.pair, name="pair"),
    path("clock", views.clock, name="clock"),
    path("assets/<path:name>", views.asset, name="asset"),
]
