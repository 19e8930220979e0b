from django.urls import path

from . import views

app_name = "coupons"

urlpatterns = [
    path("placements/<str:placement_id>/codes.csv", views.placement_codes_csv, name="placement-codes-csv"),
    path("codes/<str:code>/qr.png", views.coupon_qr_png, name="coupon-qr"),
]
