from django.contrib import admin
from django.urls import include, path

from backend.config.health import healthz, readyz
from backend.gateway.view import ApiGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", ApiGraphQLView.as_view(), name="graphql"),
    path("attribution/", include("attribution.urls", namespace="attribution")),
    path("coupons/", include("backend.coupons.urls", namespace="coupons")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("billing/", include("billing.urls", namespace="billing")),
    path("till/", include("backend.till.urls", namespace="till")),
    path("", include("backend.audience.urls")),
]
