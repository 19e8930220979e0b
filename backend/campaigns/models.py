"""Campaigns (the issuer's offer), their budget slots, and placements into publishers' pools.

Money is integer minor units of ``Campaign.currency``. Shares are basis points (1/100 %).
"""

import datetime as dt

from django.db import models
from django.db.models import F, Q

VALIDITY_MIN = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
VALIDITY_END = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        PAUSED = "paused"
        ENDED = "ended"

    class BenefitKind(models.TextChoices):
        AMOUNT_OFF = "amount_off", "Amount off"
        PERCENT_OFF = "percent_off", "Percent off with a cap"
        FREE_ITEM = "free_item", "Free item"

    merchant = models.ForeignKey(
        "merchants.Merchant",
        on_delete=models.PROTECT,
        related_name="campaigns",
        help_text="The issuer: it pays the fee for every verified write-off.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)

    benefit_kind = models.CharField(max_length=16, choices=BenefitKind.choices)
    amount_off = models.BigIntegerField(null=True, blank=True)  # AMOUNT_OFF
    percent_off_bps = models.PositiveIntegerField(null=True, blank=True)  # PERCENT_OFF, 1..10000
    percent_cap = models.BigIntegerField(null=True, blank=True)  # PERCENT_OFF: max discount
    free_item_name = models.CharField(max_length=200, blank=True, default="")  # FREE_ITEM
    free_item_value = models.BigIntegerField(null=True, blank=True)  # FREE_ITEM: its price
    min_spend = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)

    # Validity: a fixed window, and/or a number of days after each coupon's issue.
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    valid_days_after_issue = models.PositiveIntegerField(null=True, blank=True)

    all_stores = models.BooleanField(default=True)
    accepted_stores = models.ManyToManyField("merchants.Store", blank=True, related_name="+")

    per_fan_limit = models.PositiveIntegerField(default=1)
    coupons_per_fan = models.PositiveIntegerField(
        default=1, help_text="Coupons one fan may receive through one placement."
    )
    max_redemptions = models.PositiveIntegerField(null=True, blank=True)
    budget_cap = models.BigIntegerField(
        null=True, blank=True, help_text="Max of discount given + fees over verified write-offs."
    )
    fee_per_redemption = models.BigIntegerField(default=0)
    publisher_share_bps = models.PositiveIntegerField(default=0)
    void_window_seconds = models.PositiveIntegerField(default=900)
    attribution_window_days = models.PositiveIntegerField(default=30)
    voided_coupon_returns = models.BooleanField(
        default=False, help_text="A voided write-off gives the coupon back to the fan."
    )
    allow_gifting = models.BooleanField(
        default=True, help_text="A fan may give an unused coupon to a friend, once."
    )
    referral_reward = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A campaign of the same issuer: a friend's write-off through a share link gives the sharer one.",
    )

    # Daily caps (the merchant's local day), changeable while live; null = none.
    daily_redemption_cap = models.PositiveIntegerField(null=True, blank=True)
    daily_spend_cap = models.BigIntegerField(
        null=True, blank=True, help_text="Max of discount given + fees per day, minor units."
    )

    # Usage lives in CampaignSlot rows (summed for display), never on this row: a counter
    # here would make every write-off of the campaign queue on one lock.

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(min_spend__gte=0), name="campaign_min_spend_nonneg"),
            models.CheckConstraint(condition=Q(fee_per_redemption__gte=0), name="campaign_fee_nonneg"),
            models.CheckConstraint(condition=Q(publisher_share_bps__lte=10000), name="campaign_share_range"),
            models.CheckConstraint(
                condition=Q(amount_off__isnull=True) | Q(amount_off__gt=0), name="campaign_amount_off_pos"
            ),
            models.CheckConstraint(
                condition=Q(percent_off_bps__isnull=True)
                | (Q(percent_off_bps__gt=0) & Q(percent_off_bps__lte=10000)),
                name="campaign_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(budget_cap__isnull=True) | Q(budget_cap__gt=0), name="campaign_budget_pos"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="campaign_validity_ordered",
            ),
            # Years 1900..2999 in UTC, as the API's DateTime accepts: PostgreSQL would store
            # 0001-01-01+14:00 as 1 BC, which Python cannot read back.
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_from__gte=VALIDITY_MIN, valid_from__lt=VALIDITY_END),
                name="campaign_valid_from_range",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True)
                | Q(valid_until__gte=VALIDITY_MIN, valid_until__lt=VALIDITY_END),
                name="campaign_valid_until_range",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status"], name="campaign_merchant_status_idx")]

    def __str__(self) -> str:
        return self.name


class CampaignSlot(models.Model):
    """One of N slices of a campaign's caps, so write-offs do not queue on one hot row.

    Each slot owns an allowance of redemptions and of budget; the allowances sum to the
    campaign's caps, and the CHECK constraints make overspending a slot impossible, so the
    campaign can never exceed its caps by one unit or one cent whatever the concurrency.
    A null allowance means no cap. A write-off takes a unit from one slot with a single
    conditional UPDATE; when no single slot can cover it, the slots are rebalanced under lock.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="slots")
    slot = models.PositiveSmallIntegerField()
    redemption_allowance = models.PositiveIntegerField(null=True, blank=True)
    budget_allowance = models.BigIntegerField(null=True, blank=True)
    redeemed_count = models.PositiveIntegerField(default=0)
    spent_amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "slot"], name="campaignslot_unique"),
            models.CheckConstraint(
                condition=Q(redemption_allowance__isnull=True)
                | Q(redeemed_count__lte=F("redemption_allowance")),
                name="campaignslot_count_within_allowance",
            ),
            models.CheckConstraint(
                condition=Q(budget_allowance__isnull=True) | Q(spent_amount__lte=F("budget_allowance")),
                name="campaignslot_spend_within_allowance",
            ),
            models.CheckConstraint(condition=Q(spent_amount__gte=0), name="campaignslot_spend_nonneg"),
        ]


class CampaignFanUsage(models.Model):
    """How many verified, non-voided write-offs one fan has made of one campaign (per-fan limit)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    fan = models.ForeignKey("audience.Fan", on_delete=models.PROTECT, related_name="+")
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "fan"], name="campaignfanusage_unique"),
        ]


class Placement(models.Model):
    """The agreement to distribute one campaign into one publisher's fan pool."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        ENDED = "ended"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="placements")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    publisher = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey("audience.FanPool", on_delete=models.PROTECT, related_name="placements")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    quota = models.PositiveIntegerField()
    publisher_share_bps = models.PositiveIntegerField()
    issued_count = models.PositiveIntegerField(default=0)
    share_allowance = models.PositiveIntegerField(
        default=0, help_text="Coupons for friends claiming through share links once the quota is used up."
    )
    share_issued_count = models.PositiveIntegerField(default=0)
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    auto_accepted = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "pool"],
                condition=Q(status__in=["proposed", "accepted"]),
                name="placement_one_open_per_campaign_pool",
            ),
            models.CheckConstraint(condition=Q(quota__gt=0), name="placement_quota_pos"),
            models.CheckConstraint(condition=Q(publisher_share_bps__lte=10000), name="placement_share_range"),
        ]
        indexes = [
            models.Index(fields=["issuer", "status"], name="placement_issuer_idx"),
            models.Index(fields=["publisher", "status"], name="placement_publisher_idx"),
        ]


class CampaignDailyUsage(models.Model):
    """Write-offs and spend of one campaign on one local day, for its daily caps.

    Only campaigns with a daily cap write it: a conditional upsert takes a unit, so the cap
    holds to the unit and the cent whatever the concurrency (write-offs of a daily-capped
    campaign queue on this one row per day; uncapped campaigns never touch it).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    redeemed_count = models.PositiveIntegerField(default=0)
    spent_amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "day"], name="campaigndailyusage_unique"),
            models.CheckConstraint(condition=Q(spent_amount__gte=0), name="campaigndailyusage_spend_nonneg"),
        ]


class CampaignChange(models.Model):
    """One change of a live campaign's term, with who made it: the campaign's history."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=64)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    actor_merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    actor_api_key = models.ForeignKey(
        "merchants.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="The key's name (or who else acted), as it was.")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "id"], name="campaignchange_campaign_idx")]


class CampaignPartner(models.Model):
    """An issuer's agreement that another merchant's stores accept one of its campaigns.

    The issuer invites (all the partner's stores, or stores the partner chooses when it
    accepts); the partner accepts or declines; either side ends it. While accepted, a
    terminal of the partner at a store in scope writes the issuer's coupons off through the
    same exactly-once path, and the issuer owes the partner a reimbursement per write-off:
    the discount given, capped at ``max_reimbursement``, plus ``handling_fee``. Both amounts
    are minor units of the campaign's currency and are fixed once invited.
    """

    class Status(models.TextChoices):
        INVITED = "invited"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        ENDED = "ended"

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="partners")
    issuer = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    all_stores = models.BooleanField(
        default=True, help_text="All the partner's stores; otherwise the ones it chose when accepting."
    )
    stores = models.ManyToManyField("merchants.Store", blank=True, related_name="+")
    max_reimbursement = models.BigIntegerField(
        help_text="Most of the discount reimbursed per write-off, minor units of the campaign's currency."
    )
    handling_fee = models.BigIntegerField(default=0, help_text="Paid per write-off on top, minor units.")
    invited_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "partner"],
                condition=Q(status__in=["invited", "accepted"]),
                name="campaignpartner_one_open_per_partner",
            ),
            models.CheckConstraint(
                condition=Q(max_reimbursement__gte=0), name="campaignpartner_reimbursement_nonneg"
            ),
            models.CheckConstraint(condition=Q(handling_fee__gte=0), name="campaignpartner_fee_nonneg"),
            models.CheckConstraint(
                condition=~Q(partner=F("issuer")), name="campaignpartner_not_own_campaign"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["invited", "accepted", "declined", "ended"]),
                name="campaignpartner_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["issuer", "status"], name="campaignpartner_issuer_idx"),
            models.Index(fields=["partner", "campaign", "status"], name="campaignpartner_partner_idx"),
        ]
