# The web image: gunicorn serving the Django project. The same image runs the Celery
# workers and beat with another command (see README): one worker for the default queue
# (`celery -A backend.config worker -Q celery`, it runs the outbox dispatcher) and one for
# bulk issuance (`nice -n 10 celery -A backend.config worker -Q celery-issuance`), as
# scripts/run starts them. PostgreSQL and Redis are external, given by DATABASE_URL and REDIS_URL.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app

COPY pyproject.toml ./
COPY backend ./backend
COPY billing ./billing
COPY attribution ./attribution
COPY disputes ./disputes
RUN pip install .

COPY manage.py ./
COPY graphql ./graphql
RUN mkdir -p /app/.local/media && chown -R app:app /app/.local

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["gunicorn", "backend.config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--access-logfile", "-", "--logger-class", "backend.config.gunicorn_logging.RedactingLogger"]
