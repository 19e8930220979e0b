from django.contrib import admin

from .models import Campaign, CampaignPartner, CampaignSlot, Placement


class CampaignSlotInline(admin.TabularInline):
    model = CampaignSlot
    extra = 0
    readonly_fields = ("slot", "redemption_allowance", "budget_allowance", "redeemed_count", "spent_amount")
    can_delete = False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "merchant",
        "status",
        "benefit_kind",
        "currency",
        "fee_per_redemption",
        "created_at",
    )
    list_filter = ("status", "benefit_kind", "currency")
    search_fields = ("name", "merchant__name")
    filter_horizontal = ("accepted_stores",)
    list_select_related = ("merchant",)
    inlines = [CampaignSlotInline]


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "issuer", "publisher", "pool", "status", "quota", "issued_count")
    list_filter = ("status", "auto_accepted")
    raw_id_fields = ("campaign", "issuer", "publisher", "pool", "ended_by")
    list_select_related = ("campaign", "issuer", "publisher", "pool")


@admin.register(CampaignPartner)
class CampaignPartnerAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "campaign",
        "issuer",
        "partner",
        "status",
        "all_stores",
        "max_reimbursement",
        "handling_fee",
    )
    list_filter = ("status", "all_stores")
    raw_id_fields = ("campaign", "issuer", "partner", "ended_by")
    filter_horizontal = ("stores",)
    list_select_related = ("campaign", "issuer", "partner")
