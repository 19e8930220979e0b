"""Celery entry points of the audience app: thin and safe to run twice."""

from celery import shared_task

from . import imports


@shared_task(name="backend.audience.tasks.run_fan_import")
def run_fan_import(import_id: int) -> None:
    """Run or resume one CSV import; a finished import is left untouched."""
    imports.fan_import_run(import_id=import_id)


@shared_task(name="backend.audience.tasks.requeue_stalled_fan_imports")
def requeue_stalled_fan_imports() -> int:
    """Re-enqueue imports still pending after a while (their publish was lost: broker down)."""
    return imports.requeue_stalled()
