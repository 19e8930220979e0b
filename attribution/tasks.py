"""Celery entry points of attribution: thin, idempotent."""

from celery import shared_task

from . import services


@shared_task(name="attribution.tasks.run_report_export")
def run_report_export(export_id: int) -> str | None:
    export = services.export_run(export_id=export_id)
    return export.status if export else None
