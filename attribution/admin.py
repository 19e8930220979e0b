"""Operators' read-only view of attribution records and export jobs."""

from django.contrib import admin

from .models import AttributionRecord, ReportExport


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # records are never deleted


@admin.register(AttributionRecord)
class AttributionRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "redemption_id",
        "campaign_id",
        "issuer_id",
        "publisher_id",
        "redeemed_at",
        "order_amount",
        "discount_amount",
        "fee_amount",
        "currency",
        "in_attribution_window",
        "is_new_customer",
        "voided_at",
    )
    list_filter = ("in_attribution_window", "is_new_customer", "currency")
    date_hierarchy = "redeemed_at"
    show_full_result_count = False  # the table is large: no COUNT(*) per page


@admin.register(ReportExport)
class ReportExportAdmin(ReadOnlyAdmin):
    list_display = ("id", "merchant", "dimension", "status", "row_count", "created_at", "finished_at")
    list_filter = ("status", "dimension")
