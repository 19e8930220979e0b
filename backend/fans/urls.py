from django.urls import path

from . import posters, views

app_name = "fans"

urlpatterns = [
    path("c/<slug:token>/", views.claim_page, name="claim"),
    path("w/<slug:token>/", views.wallet_page, name="wallet"),
    path("w/<slug:token>/revoke", views.wallet_revoke, name="wallet-revoke"),
    path("w/<slug:token>/codes/<slug:code>/qr.svg", views.coupon_qr, name="coupon-qr"),
    path("w/<slug:token>/codes/<slug:code>/barcode.svg", views.coupon_barcode, name="coupon-barcode"),
    path("s/<slug:token>/", views.share_page, name="share"),
    path("g/<slug:token>/", views.gift_page, name="gift"),
    path("w/<slug:token>/codes/<slug:code>/gift", views.gift_create, name="gift-create"),
    path("w/<slug:token>/codes/<slug:code>/share", views.share_create, name="share-create"),
    path("d/<slug:token>/", views.coupon_delivery, name="coupon-delivery"),
    path("d/<slug:token>/qr.svg", views.delivery_qr, name="delivery-qr"),
    path("d/<slug:token>/barcode.svg", views.delivery_barcode, name="delivery-barcode"),
    path("wallet/", views.wallet_recover, name="wallet-recover"),
    path(
        "fans/claim-links/<int:link_id>/poster.<str:fmt>", posters.claim_link_poster, name="claim-link-poster"
    ),
]
