from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "backend.coupons"
    label = "coupons"
