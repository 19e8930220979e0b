from django.contrib import admin
from django.urls import include, path

from backend.api.view import ApiGraphQLView
from backend.config.health import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", ApiGraphQLView.as_view(), name="graphql"),
    path("attribution/", include("attribution.urls", namespace="attribution")),
    path("coupons/", include("backend.coupons.urls", namespace="coupons")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("billing/", include("billing.urls", namespace="billing")),
    path("", include("backend.audience.urls")),
]
