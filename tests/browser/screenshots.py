"""Product screenshots for the docs: `save_product_screenshot(page, "claim-page-zh")`.

With `SAVE_SCREENSHOTS=1` they are written to docs/screenshots/ (committed: refresh them
when a page changes); otherwise to .local/test-artifacts/screenshots/, so an ordinary test
run leaves the committed ones alone (codes and ports differ on every run). Screenshots of
failures are separate: tests/browser/conftest.py keeps them under .local/test-artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
RUN_SCREENSHOTS = ROOT / ".local" / "test-artifacts" / "screenshots"


def save_product_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    folder = DOCS_SCREENSHOTS if os.environ.get("SAVE_SCREENSHOTS") == "1" else RUN_SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
