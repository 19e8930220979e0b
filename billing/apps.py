from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    label = "billing"

    def ready(self) -> None:
        from attribution.events import ATTRIBUTION_RECORDED
        from backend.outbox.registry import REDEMPTION_VOIDED, register

        from . import handlers, reconcile, writeoff_export  # noqa: F401  (reconcile registers its checks)

        writeoff_export.register()

        # Billing reacts to the record attribution announces; it never creates one.
        register(ATTRIBUTION_RECORDED, name="billing.charge", batch=handlers.charge_batch)(handlers.charge)
        register(REDEMPTION_VOIDED, name="billing.void")(handlers.void)
