"""Screenshots of every example's pages in headless Chromium (Debian's), light and dark, wide and narrow.

``python -P bench/screenshots.py [OUTPUT]`` in a venv where perseus and Playwright are installed
(default OUTPUT: ``screenshots/``). Each example is built and served as ``nox -s lighthouse``
serves it; the file names say example, page, width and colour scheme.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lighthouse import served  # noqa: E402 (bench/ is not a package on sys.path)

PAGES = {
    "basic": ["/", "/about", "/post", "/post/first", "/search", "/missing"],
    "i18n": ["/en-US", "/fr-FR", "/en-US/post", "/fr-FR/post/first", "/en-US/missing"],
    "strategies": ["/", "/greet?name=Ada", "/merged?q=tea", "/clock", "/post/a", "/post/boom"],
}
VIEWPORTS = {"wide": {"width": 1280, "height": 800}, "narrow": {"width": 390, "height": 844}}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def file_name(example: str, page: str, viewport: str, scheme: str) -> str:
    slug = page.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "home"
    return f"{example}-{slug}-{viewport}-{scheme}.png"


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    output.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as workdir:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for example, pages in PAGES.items():
            with served(example, Path(workdir)) as url:
                for viewport, size in VIEWPORTS.items():
                    for scheme in ("light", "dark"):
                        context = browser.new_context(viewport=size, color_scheme=scheme)  # type: ignore[arg-type]
                        page = context.new_page()
                        for path in pages:
                            page.goto(url + path)
                            shot = output / file_name(example, path, viewport, scheme)
                            page.screenshot(path=str(shot), full_page=True)
                            print(shot)
                        context.close()
        browser.close()


if __name__ == "__main__":
    main()
