"""`manage.py console_screenshots`: a PNG of every console page, in English and Chinese.

Seeds the demo network and the screenshot scene (backend.demo.screens) in the database named
by DATABASE_URL, serves the site from a thread on a free port, and drives Chromium
(Playwright, /usr/bin/chromium) through every page of the registry (backend.console.screens),
signed in as the scene's member of the page's role. Writes docs/screenshots/console-<name>-<lang>.png.
Use a development or demo database: the scene adds write-offs, an import and a sample invoice.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.test.testcases import LiveServerThread

from backend.console.screens import all_screens
from backend.demo.screens import seed_scene

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}
VIEWPORT = {"width": 1280, "height": 860}


class Command(BaseCommand):
    help = "Write a PNG of every console page, in en and zh-Hans, to docs/screenshots/."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(settings.BASE_DIR / "docs" / "screenshots"))
        parser.add_argument("--only", nargs="*", default=None, help="screen names (default: all)")

    def handle(self, *args, out: str, only: list[str] | None, **options):
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise CommandError("Playwright is missing: pip install -e '.[test]'") from exc
        if not os.path.exists(CHROMIUM):
            raise CommandError(f"{CHROMIUM} is missing: apt-get install chromium fonts-wqy-microhei")
        # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain
        # synchronous code (as in the browser tests).
        os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        people = seed_scene()
        screens = [s for s in all_screens() if only is None or s.name in only]
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        base = f"http://127.0.0.1:{server.port}"
        written = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for lang, locale in LANGUAGES.items():
                    sessions = {}
                    for screen in screens:
                        context = browser.new_context(
                            locale=locale,
                            extra_http_headers={"Accept-Language": locale},
                            viewport=VIEWPORT,
                        )
                        if screen.role is not None:
                            key = (screen.merchant, screen.role)
                            if key not in sessions:
                                sessions[key] = _session_cookie(people[key])
                            context.add_cookies(
                                [{"name": settings.SESSION_COOKIE_NAME, "value": sessions[key], "url": base}]
                            )
                        page = context.new_page()
                        page.goto(f"{base}{screen.path}", wait_until="networkidle")
                        if screen.follow:
                            link = page.locator(screen.follow).first
                            if link.count() == 0:
                                self.stderr.write(f"  {screen.name}: nothing to follow ({screen.follow})")
                                context.close()
                                continue
                            link.click()
                            page.wait_for_load_state("networkidle")
                        path = folder / f"console-{screen.name}-{lang}.png"
                        page.screenshot(path=str(path), full_page=screen.full_page)
                        written.append(path)
                        self.stdout.write(f"  {path.name}  {page.url.removeprefix(base)}")
                        context.close()
                browser.close()
        finally:
            server.terminate()
        self.stdout.write(self.style.SUCCESS(f"{len(written)} screenshots in {folder}"))


def _session_cookie(user) -> str:
    """A signed-in session for ``user`` (the sign-in form and TOTP prompt have their own tests)."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value
