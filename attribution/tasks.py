"""Celery entry points of attribution: thin, idempotent."""

from celery import shared_task

from . import services


@shared_task(name="attribution.tasks.run_report_export")
def run_report_export(export_id: int) -> str | None:
    export = services.export_run(export_id=export_id)
    return export.status if export else None


@shared_task(name="attribution.tasks.requeue_stalled_exports")
def requeue_stalled_exports() -> int:
    """Periodic: exports whose task was lost (broker down) or whose worker died run again."""
    return len(services.requeue_stalled_exports())
