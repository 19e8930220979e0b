"""Export jobs: claimed once, re-queued when their task was lost, failures recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from attribution import exports, services
from attribution.models import ReportExport
from attribution.reports import Dimension, ReportFilters
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return services.export_create(
        merchant=MerchantFactory(), requested_by=None, dimension=Dimension.DAY, filters=ReportFilters()
    )


def test_a_second_run_does_not_write_again(export, monkeypatch):
    done = services.export_run(export_id=export.pk)
    assert done.status == ReportExport.Status.SUCCEEDED
    assert set(done.files) == {"csv", "xlsx", "parquet", "png"}

    def boom(_export):
        raise AssertionError("written twice")

    monkeypatch.setattr(exports, "write_files", boom)
    assert services.export_run(export_id=export.pk).status == ReportExport.Status.SUCCEEDED


def test_a_running_export_is_not_taken_over_until_stale(export, monkeypatch):
    ReportExport.objects.filter(pk=export.pk).update(status="running", started_at=timezone.now())
    assert services.export_run(export_id=export.pk).status == ReportExport.Status.RUNNING
    ReportExport.objects.filter(pk=export.pk).update(started_at=timezone.now() - dt.timedelta(hours=1))
    assert services.export_run(export_id=export.pk).status == ReportExport.Status.SUCCEEDED


def test_failure_is_recorded(export, monkeypatch):
    def broken(_export):
        raise OSError("disk full")

    monkeypatch.setattr(exports, "write_files", broken)
    failed = services.export_run(export_id=export.pk)
    assert failed.status == ReportExport.Status.FAILED
    assert "OSError" in failed.error and "disk full" not in failed.error  # no internals leak


def test_lost_tasks_are_requeued(export, monkeypatch):
    scheduled: list[int] = []
    monkeypatch.setattr(services, "_schedule_export", scheduled.append)
    assert services.requeue_stalled_exports() == []  # too young: its own task may still come
    later = timezone.now() + services.EXPORT_REQUEUE_AFTER + dt.timedelta(seconds=1)
    assert services.requeue_stalled_exports(now=later) == [export.pk]
    assert scheduled == [export.pk]
