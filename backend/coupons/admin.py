from django.contrib import admin

from .models import Coupon, IssuanceChunk, IssuanceJob


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("id", "code", "status", "campaign", "placement", "ordinal", "issued_at", "valid_until")
    list_filter = ("status",)
    search_fields = ("code",)
    raw_id_fields = ("campaign", "placement", "fan")
    list_select_related = ("campaign",)


class IssuanceChunkInline(admin.TabularInline):
    model = IssuanceChunk
    extra = 0
    readonly_fields = ("index", "after_fan_id", "upto_fan_id", "issued", "done_at")
    can_delete = False


@admin.register(IssuanceJob)
class IssuanceJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "placement",
        "status",
        "issued",
        "total",
        "chunks_done",
        "chunk_count",
        "created_at",
    )
    list_filter = ("status",)
    raw_id_fields = ("placement", "requested_by")
    exclude = ("fan_ids",)
    inlines = [IssuanceChunkInline]
