"""The product's URLs plus the benchmark's reference views under /bench/."""

from django.urls import path

from backend.config.urls import urlpatterns as product_urlpatterns

from . import views

urlpatterns = [
    path("bench/redemptions/", views.redemption_list, name="bench-redemptions"),
    path("bench/writeoff/", views.writeoff, name="bench-writeoff"),
    *product_urlpatterns,
]
