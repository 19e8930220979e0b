from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "attribution"
    label = "attribution"

    def ready(self) -> None:
        from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED, register

        from . import handlers, reconcile  # noqa: F401  (reconcile registers its checks)

        register(REDEMPTION_VERIFIED, name="attribution.record", batch=handlers.record_verified_batch)(
            handlers.record_verified
        )
        register(REDEMPTION_VOIDED, name="attribution.void")(handlers.record_voided)
