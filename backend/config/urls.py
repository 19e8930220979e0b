from django.contrib import admin
from django.urls import include, path

from backend.config.health import healthz, readyz
from backend.console.views import root
from backend.gateway.view import ApiGraphQLView
from backend.notifications.views import dev_inbox

urlpatterns = [
    path("", root, name="root"),  # sign-in, or the console for a signed-in member
    # The fan pages first: the busiest public URLs (a claim is resolved before a dozen other
    # prefixes are tried); their one-letter prefixes collide with none below.
    path("", include("backend.fans.urls", namespace="fans")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("console/", include("backend.console.urls", namespace="console")),
    path("graphql/", ApiGraphQLView.as_view(), name="graphql"),
    path("attribution/", include("attribution.urls", namespace="attribution")),
    path("coupons/", include("backend.coupons.urls", namespace="coupons")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("billing/", include("billing.urls", namespace="billing")),
    path("disputes/", include("disputes.urls", namespace="disputes")),
    path("till/", include("backend.till.urls", namespace="till")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("backend.team.urls", namespace="team")),
    path("dev/inbox/", dev_inbox, name="dev-inbox"),
    path("", include("backend.audience.urls")),
]
