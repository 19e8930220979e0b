"""WSGI entry of the gunicorn the benchmark starts (the product plus the /bench/ reference views)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.bench.settings")
application = get_wsgi_application()
