"""The Celery app: configured from Django settings, tasks autodiscovered from each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

app = Celery("coupon_network")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
