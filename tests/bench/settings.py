"""Settings of the processes the benchmark starts: the project's, plus the bench's reference views.

The reference views (tests.bench.views) are mounted under /bench/ only here, never in the
product's URL configuration.
"""

from backend.config.settings import *  # noqa: F403

ROOT_URLCONF = "tests.bench.urls"
