"""The outbox for operators: what is waiting, what failed, and a retry for dead letters."""

from django.contrib import admin, messages

from . import services
from .models import OutboxDelivery, OutboxEvent


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("dead", "dead-lettered"),
            ("waiting", "waiting"),
            ("failing", "failing (retrying)"),
            ("done", "dispatched"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "dead":
            return queryset.filter(dead_at__isnull=False, dispatched_at__isnull=True)
        if value == "waiting":
            return queryset.filter(dead_at__isnull=True, dispatched_at__isnull=True)
        if value == "failing":
            return queryset.filter(dead_at__isnull=True, dispatched_at__isnull=True, attempts__gt=0)
        if value == "done":
            return queryset.filter(dispatched_at__isnull=False)
        return queryset


class OutboxDeliveryInline(admin.TabularInline):
    model = OutboxDelivery
    extra = 0
    readonly_fields = ("handler", "processed_at")
    can_delete = False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = ("id", "topic", "created_at", "attempts", "dispatched_at", "dead_at", "short_error")
    list_filter = (StateFilter, "topic")
    search_fields = ("=id", "last_error")
    readonly_fields = (
        "topic",
        "payload",
        "created_at",
        "dispatched_at",
        "attempts",
        "last_error",
        "next_attempt_at",
        "dead_at",
    )
    inlines = [OutboxDeliveryInline]
    actions = ["retry_dead_letters"]
    show_full_result_count = False  # the table is large: no COUNT(*) per page

    @admin.display(description="last error")
    def short_error(self, obj: OutboxEvent) -> str:
        return obj.last_error.splitlines()[0][:120] if obj.last_error else ""

    @admin.action(description="Retry the selected dead-lettered events")
    def retry_dead_letters(self, request, queryset):
        revived = services.retry_dead_events(event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{revived} dead-lettered event(s) queued again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
