"""Operators read the trail; nobody edits it."""

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "merchant", "actor_kind", "actor_label", "operation")
    list_filter = ("actor_kind", "operation")
    search_fields = ("actor_label", "operation", "merchant__name")
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
