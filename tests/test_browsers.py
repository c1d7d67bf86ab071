"""How browser tests get their Chromium (tests/browsers.py): found, else installed, else a failure
that names the fix; never a skip."""

from __future__ import annotations

import pytest

from tests import browsers


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """A machine with no Chromium anywhere; the test says what installing does."""
    ran: list[list[str]] = []
    state = {"playwright": None, "debian": None, "install_works": set()}

    def run(command: list[str]) -> bool:
        ran.append(command)
        if "playwright" in command and "playwright" in state["install_works"]:
            state["playwright"] = "/fake/ms-playwright/chrome"
            return True
        if "install" in command and "chromium" in command and "apt" in state["install_works"]:
            state["debian"] = "/usr/bin/chromium"
            return True
        return False

    monkeypatch.delenv("MADANG_CHROMIUM", raising=False)
    monkeypatch.setattr(browsers, "_debian_chromium", lambda: state["debian"])
    monkeypatch.setattr(browsers, "_playwright_chromium", lambda: state["playwright"])
    monkeypatch.setattr(browsers, "_run", run)
    monkeypatch.setattr(browsers.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    browsers._find_or_install.cache_clear()
    yield state, ran
    browsers._find_or_install.cache_clear()


def test_debian_chromium_comes_first_and_nothing_is_installed(machine):
    state, ran = machine
    state["debian"], state["playwright"] = "/usr/bin/chromium", "/fake/ms-playwright/chrome"
    assert browsers.chromium_executable() == "/usr/bin/chromium"
    assert ran == []


def test_a_downloaded_playwright_chromium_is_used_when_debian_has_none(machine):
    state, ran = machine
    state["playwright"] = "/fake/ms-playwright/chrome"
    assert browsers.chromium_executable() == "/fake/ms-playwright/chrome"
    assert ran == []


def test_without_any_chromium_playwright_installs_one(machine):
    state, ran = machine
    state["install_works"] = {"playwright"}
    assert browsers.chromium_executable() == "/fake/ms-playwright/chrome"
    assert ran == [[browsers.sys.executable, "-m", "playwright", "install", "chromium"]]


def test_as_root_apt_get_installs_chromium_when_playwright_cannot(machine, monkeypatch):
    state, ran = machine
    state["install_works"] = {"apt"}
    monkeypatch.setattr(browsers.os, "geteuid", lambda: 0)
    assert browsers.chromium_executable() == "/usr/bin/chromium"
    assert ran[-1][-4:] == ["install", "-y", "-qq", "chromium"]


def test_with_no_way_to_get_one_the_test_fails_and_names_the_command(machine, monkeypatch):
    monkeypatch.setattr(browsers.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match=r"playwright install chromium"):
        browsers.chromium_executable()
    _state, ran = machine
    assert not any("apt-get" in command for command in ran)  # not root: no apt-get
