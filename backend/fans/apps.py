from django.apps import AppConfig


class FansConfig(AppConfig):
    name = "backend.fans"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backend.audience.signals import consent_withdrawn
        from backend.outbox.registry import REDEMPTION_VERIFIED, REDEMPTION_VOIDED, register

        from . import handlers, services

        # a publisher's recorded withdrawal lets go of the kept phone number (audience cannot
        # import this app, so it announces the fact)
        consent_withdrawn.connect(services.forget_contact_without_consent, dispatch_uid="fans.contact")
        register(
            REDEMPTION_VERIFIED, name="fans.referral_reward", batch=handlers.grant_referral_rewards_batch
        )(handlers.grant_referral_reward)
        register(
            REDEMPTION_VOIDED, name="fans.referral_take_back", batch=handlers.take_back_referral_rewards_batch
        )(handlers.take_back_referral_reward)
