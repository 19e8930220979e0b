"""Product screenshots for the docs: `save_product_screenshot(page, "claim-page-zh")`.

They are committed under docs/screenshots/ (unlike failure screenshots, which are test
artifacts under .local/test-artifacts/).
"""

from __future__ import annotations

from pathlib import Path

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def save_product_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = DOCS_SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
