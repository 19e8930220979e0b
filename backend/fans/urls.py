from django.urls import path

from . import posters, views

app_name = "fans"

urlpatterns = [
    path("c/<str:token>/", views.claim_page, name="claim"),
    path("w/<str:token>/", views.wallet_page, name="wallet"),
    path("w/<str:token>/revoke", views.wallet_revoke, name="wallet-revoke"),
    path("w/<str:token>/codes/<str:code>/qr.svg", views.coupon_qr, name="coupon-qr"),
    path("w/<str:token>/codes/<str:code>/barcode.svg", views.coupon_barcode, name="coupon-barcode"),
    path("s/<str:token>/", views.share_page, name="share"),
    path("g/<str:token>/", views.gift_page, name="gift"),
    path("w/<str:token>/codes/<str:code>/gift", views.gift_create, name="gift-create"),
    path("w/<str:token>/codes/<str:code>/share", views.share_create, name="share-create"),
    path("d/<str:token>/", views.coupon_delivery, name="coupon-delivery"),
    path("d/<str:token>/qr.svg", views.delivery_qr, name="delivery-qr"),
    path("d/<str:token>/barcode.svg", views.delivery_barcode, name="delivery-barcode"),
    path("wallet/", views.wallet_recover, name="wallet-recover"),
    path(
        "fans/claim-links/<int:link_id>/poster.<str:fmt>", posters.claim_link_poster, name="claim-link-poster"
    ),
]
