"""The one place browser tests find their Chromium, and where they leave their artefacts.

``chromium_executable()`` finds, in order: ``$MADANG_CHROMIUM``; Debian's Chromium (``chromium``
on PATH, ``/usr/bin/chromium``); the Chromium Playwright manages, if it is downloaded; else it
installs one the way this machine allows (``playwright install chromium``, then, as root,
``apt-get install -y chromium``). With none of them it fails the test, naming the command that
fixes it: a browser test never skips for want of a browser.

Artefacts (screenshots, axe results) go to ``$MADANG_TEST_ARTEFACTS``, by default
``<repo>/test-artefacts`` (gitignored).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]
FIX = (
    f"no Chromium for the browser tests: run `{Path(sys.executable).parent / 'playwright'} install chromium` "
    "(or, as root, `apt-get install -y chromium`)"
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _debian_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _playwright_chromium() -> str | None:
    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if path and os.access(path, os.X_OK) else None


def _run(command: list[str]) -> bool:
    print(f"\nbrowser tests: no Chromium found, running {' '.join(command)}", file=sys.stderr)
    try:
        done = subprocess.run(command, check=False, timeout=900, stdout=sys.stderr, stderr=sys.stderr)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"browser tests: {' '.join(command)} did not finish: {error}", file=sys.stderr)
        return False
    return done.returncode == 0


@functools.cache
def _find_or_install() -> str | None:
    if explicit := os.environ.get("MADANG_CHROMIUM"):
        return explicit if os.access(explicit, os.X_OK) else None
    if found := _debian_chromium() or _playwright_chromium():
        return found
    if _run([sys.executable, "-m", "playwright", "install", "chromium"]) and (found := _playwright_chromium()):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
        _run([*apt, "update", "-qq"])
        if _run([*apt, "install", "-y", "-qq", "chromium"]):
            return _debian_chromium()
    return None


def chromium_executable() -> str:
    """The Chromium to launch, found or installed once per test run; fails the test without one."""
    found = _find_or_install()
    if found is None:
        if explicit := os.environ.get("MADANG_CHROMIUM"):
            pytest.fail(f"MADANG_CHROMIUM={explicit} is not an executable; unset it or point it at a Chromium")
        pytest.fail(FIX)
    return found


def artefacts_dir() -> Path:
    path = Path(os.environ.get("MADANG_TEST_ARTEFACTS") or ROOT / "test-artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of ``page`` as ``<artefacts>/<name>.png``; returns its path."""
    path = artefacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    return path


# (variant, page, nodes per impact, rules violated) for each axe run: pytest's summary prints them.
AXE_RESULTS: list[tuple[str, str, dict[str, int], list[str]]] = []


def axe_summary_lines() -> list[str]:
    """One row per variant, one column per page; each cell is nodes per impact:
    critical/serious/moderate/minor."""
    if not AXE_RESULTS:
        return []
    pages = list(dict.fromkeys(page for _, page, _, _ in AXE_RESULTS))
    rows: dict[str, dict[str, str]] = {}
    rules: dict[str, set[str]] = {}
    for variant, page, counts, violated in AXE_RESULTS:
        rows.setdefault(variant, {})[page] = "/".join(
            str(counts[i]) for i in ("critical", "serious", "moderate", "minor")
        )
        rules.setdefault(variant, set()).update(violated)
    lines = [f"{'crit/ser/mod/min':<18}" + "".join(f"{page:>12}" for page in pages) + "  rules"]
    for variant, cells in rows.items():
        lines.append(
            f"{variant:<18}"
            + "".join(f"{cells.get(page, '-'):>12}" for page in pages)
            + f"  {', '.join(sorted(rules[variant])) or '-'}"
        )
    return [*lines, f"(every violation's nodes: {artefacts_dir()}/axe-*.json)"]
