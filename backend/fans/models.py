"""What fans do with coupons: claim links, claims, wallets, and the phone kept for reminders."""

from django.db import models
from django.db.models import Q


class ClaimLink(models.Model):
    """A link (and its QR poster) through which fans claim a placement's quota on demand.

    ``channel`` tags where the publisher posted it (``wechat-group``, ``counter-poster``), so
    claims and reports split by channel.
    """

    placement = models.ForeignKey("campaigns.Placement", on_delete=models.PROTECT, related_name="claim_links")
    channel = models.CharField(max_length=40)
    token = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["placement", "id"], name="claimlink_placement_idx")]

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class ShareLink(models.Model):
    """A fan's personal link to share a placement's offer with friends (分销).

    ``parent`` is who shared it with the sharer, if anyone: a claim records a chain of at
    most two sharers.
    """

    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="share_links")
    placement = models.ForeignKey("campaigns.Placement", on_delete=models.PROTECT, related_name="share_links")
    parent = models.ForeignKey(
        "audience.Fan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    channel = "share"
    is_active = True

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["fan", "placement"], name="sharelink_once_per_fan_placement")
        ]


class Claim(models.Model):
    """How a coupon reached its fan on demand: through which link and channel.

    One per coupon; the coupon's own (placement, fan, ordinal) constraint makes the claim
    exactly once per fan per placement.
    """

    coupon = models.OneToOneField("coupons.Coupon", on_delete=models.PROTECT, related_name="claim")
    placement = models.ForeignKey("campaigns.Placement", on_delete=models.PROTECT, related_name="+")
    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="claims")
    claim_link = models.ForeignKey(
        ClaimLink, on_delete=models.PROTECT, null=True, blank=True, related_name="claims"
    )
    channel = models.CharField(max_length=40)
    # Who shared it: the sharer, and who shared it with the sharer (a chain of at most two).
    sharer = models.ForeignKey(
        "audience.Fan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sharer_parent = models.ForeignKey(
        "audience.Fan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["placement", "channel"], name="claim_placement_channel_idx")]


class Wallet(models.Model):
    """A fan's personal wallet link: a long random token, revocable; one active per fan."""

    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="wallets")
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["fan"], condition=Q(revoked_at__isnull=True), name="wallet_one_active_per_fan"
            )
        ]


class Gift(models.Model):
    """A coupon given by one fan to a friend, once (转赠): the audit trail of the transfer.

    Created when the giver makes the accept link; ``accepted_at`` and ``receiver`` are set
    when the friend accepts, in the transaction that moves the coupon. The coupon keeps its
    placement, so attribution stays with the original placement.
    """

    coupon = models.OneToOneField("coupons.Coupon", on_delete=models.PROTECT, related_name="gift")
    giver = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="+")
    receiver = models.ForeignKey(
        "audience.Fan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)


class FanContact(models.Model):
    """The phone number a fan allowed us to keep for reminders, encrypted (backend.fans.contact).

    Kept only with consent; deleted when the consent is withdrawn.
    """

    fan = models.OneToOneField("audience.Fan", on_delete=models.CASCADE, related_name="contact")
    phone_encrypted = models.BinaryField()
    consented_at = models.DateTimeField()
    language = models.CharField(max_length=10, default="en", help_text="The page's language at consent.")


class ExpiryReminder(models.Model):
    """An expiry reminder sent for one coupon: at most one per coupon, whatever the re-runs."""

    coupon = models.OneToOneField("coupons.Coupon", on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)


class ReferralReward(models.Model):
    """The reward a sharer got for a friend's write-off (the campaign's referral reward).

    Exactly one per write-off (unique on the redemption); a void of that write-off takes
    the reward coupon back while it is unused (``revoked_at``).
    """

    redemption = models.OneToOneField(
        "redemptions.Redemption", on_delete=models.PROTECT, related_name="referral_reward"
    )
    sharer = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="+")
    coupon = models.OneToOneField("coupons.Coupon", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
