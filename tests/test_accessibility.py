"""axe-core (axe-playwright-python) on every kind of page, as people get them: English and Korean
(the browser's Accept-Language, which LocaleMiddleware follows), desktop and phone, light and dark
(prefers-color-scheme, honoured once the stylesheet has a dark mode).

No page may have a violation of impact "critical" or "serious"; the colour-contrast rule is on.
Each run's counts by impact are printed in pytest's summary (tests/conftest.py) and written, with
every violation's nodes, to ``<artefacts>/axe-<theme>-<language>-<viewport>.json``.

To look at another state of the app, add a ``Scene``; to add a theme, add it to ``THEMES``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from rooms.models import Room
from tests import browsers, scenes
from tests.test_browser import live, room_path

pytestmark = [
    pytest.mark.browser,
    pytest.mark.look,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_broadcasts_from_the_test_process"),
]

LOCALES = {"en": "en-GB", "ko": "ko-KR"}
VIEWPORTS = {"desktop": browsers.DESKTOP, "phone": browsers.PHONE}
# theme -> the browser context options that show it (a toggle's cookie can join color_scheme here)
THEMES: dict[str, dict[str, Any]] = {"light": {"color_scheme": "light"}, "dark": {"color_scheme": "dark"}}
IMPACTS = ("critical", "serious", "moderate", "minor")
FAILING_IMPACTS = {"critical", "serious"}
AXE_OPTIONS = {"resultTypes": ["violations", "incomplete"], "rules": {"color-contrast": {"enabled": True}}}
AXE = Axe()


@dataclass(frozen=True)
class Scene:
    name: str
    open: Callable[[BrowserContext, Room], Page]  # a page of the context, ready to be looked at


def _goto(context: BrowserContext, path: str) -> Page:
    page = context.new_page()
    page.goto(path)
    return page


def _lobby(context: BrowserContext, room: Room) -> Page:
    page = live(_goto(context, "/"))
    expect(page.locator("#room-list > li")).to_have_count(len(scenes.LOBBY_ROOMS) + 1)
    return page


def _room_with_an_error(context: BrowserContext, room: Room) -> Page:
    """The busy room, after the viewer tried to send nothing: the composer shows its error."""
    page = live(_goto(context, room_path(room)))
    expect(page.locator(".message-own:visible").first).to_be_visible()  # mine, with my controls
    expect(page.locator(".message-edited").first).to_be_visible()
    expect(page.locator(".reaction").first).to_be_visible()
    page.locator("#composer-text").fill("   ")
    page.locator("#composer-text").press("Enter")
    expect(page.locator("#chat-error")).to_have_attribute("data-error", "empty")
    return page


def _room_with_open_forms(context: BrowserContext, room: Room) -> Page:
    """The busy room with the reaction palette open on one message and the edit form on one of mine."""
    page = live(_goto(context, room_path(room)))
    page.locator("article.message").nth(1).locator(".message-react").click()
    own = page.locator("article.message:has(.message-own:visible)").last
    own.locator(".message-edit").click()
    expect(page.locator(".message-dialog[open]")).to_have_count(2)
    return page


def _history(context: BrowserContext, room: Room) -> Page:
    """The page "load older" is without JavaScript: the first messages, a link back to the room."""
    page = _goto(context, f"{room_path(room)}messages/?before=12")
    expect(page.locator("article.message")).to_have_count(11)
    return page


def _search(context: BrowserContext, room: Room) -> Page:
    """The search page with results, their matches marked."""
    page = _goto(context, "/search/?q=tea")
    expect(page.locator(".search-result mark").first).to_be_visible()
    return page


def _permalink(context: BrowserContext, room: Room) -> Page:
    """A message in its place, as a search result opens it: marked by its :target style."""
    message = room.messages.get(seq=5)
    page = _goto(context, f"{room_path(room)}messages/5/#message-{message.pk}")
    expect(page.locator(f"#message-{message.pk}")).to_be_in_viewport()
    return page


SCENES = [
    Scene("lobby", _lobby),
    Scene("room", _room_with_an_error),
    Scene("room-forms", _room_with_open_forms),
    Scene("history", _history),
    Scene("search", _search),
    Scene("permalink", _permalink),
    Scene("login", lambda context, room: _goto(context, "/accounts/login/")),
    Scene("signup", lambda context, room: _goto(context, "/accounts/signup/")),
    Scene("time-zone", lambda context, room: _goto(context, "/me/time-zone/")),
]


def _counts(violations: list[dict[str, Any]]) -> dict[str, int]:
    return {impact: sum(len(v["nodes"]) for v in violations if v["impact"] == impact) for impact in IMPACTS}


def _summary(violation: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": violation["id"],
        "impact": violation["impact"],
        "help": violation["help"],
        "nodes": [
            {"target": node["target"], "html": node["html"][:300], "summary": node.get("failureSummary", "")}
            for node in violation["nodes"]
        ],
    }


def _variants() -> list[Any]:
    return [
        pytest.param(theme, language, viewport, id=f"{theme}-{language}-{viewport}")
        for theme in THEMES
        for language in LOCALES
        for viewport in VIEWPORTS
    ]


@pytest.mark.parametrize(("theme", "language", "viewport"), _variants())
def test_no_page_has_a_critical_or_serious_axe_violation(browser, server, theme, language, viewport):
    context = browser.new_context(
        base_url=server.url,
        locale=LOCALES[language],
        viewport=VIEWPORTS[viewport],
        **THEMES[theme],
    )
    try:
        first = _goto(context, "/")  # the viewer's session, and so their guest identity
        viewer = scenes.guest_of(first)
        first.close()
        scenes.lobby()
        room = scenes.busy_room(viewer)

        variant = f"{theme}-{language}-{viewport}"
        report: dict[str, Any] = {}
        failures = []
        for scene in SCENES:
            page = scene.open(context, room)
            assert page.evaluate("document.documentElement.lang") == language  # the page is in it
            results = AXE.run(page, options=AXE_OPTIONS).response
            violations = results["violations"]
            checked = {rule["id"] for rule in results["passes"] + violations + results["incomplete"]}
            assert "color-contrast" in checked, f"{scene.name}: axe did not check colour contrast"
            contrast_unsure = [v for v in results["incomplete"] if v["id"] == "color-contrast"]
            report[scene.name] = {
                "url": page.url,
                "counts": _counts(violations),
                "violations": [_summary(v) for v in violations],
                "color_contrast_incomplete": [_summary(v) for v in contrast_unsure],
            }
            browsers.AXE_RESULTS.append((variant, scene.name, _counts(violations), [v["id"] for v in violations]))
            failures += [
                f"{scene.name}: {v['id']} ({v['impact']}) at {', '.join(str(n['target']) for n in v['nodes'])}"
                for v in violations
                if v["impact"] in FAILING_IMPACTS
            ]
            page.close()
        path = browsers.artefacts_dir() / f"axe-{variant}.json"
        path.write_text(json.dumps(report, ensure_ascii=False, indent=2))
        print(f"\naxe, {variant} (nodes per impact; details in {path}):")
        for name, entry in report.items():
            rules = ", ".join(v["rule"] for v in entry["violations"]) or "-"
            print(f"  {name:<11} " + " ".join(f"{k}={n}" for k, n in entry["counts"].items()) + f"  {rules}")
        assert not failures, "critical or serious axe violations:\n" + "\n".join(failures)
    finally:
        context.close()


def test_the_axe_run_used_here_finds_a_contrast_failure_and_a_nameless_link_when_there_are_some(browser):
    """The check above can fail: the same run, on a page with known faults, reports them as serious."""
    page = browser.new_page()
    try:
        page.set_content(
            '<!doctype html><html lang="en"><title>t</title><main><h1>A page</h1>'
            '<p style="color:#bbb;background:#fff">faint words</p><a href="/x"></a></main></html>'
        )
        violations = {v["id"]: v["impact"] for v in AXE.run(page, options=AXE_OPTIONS).response["violations"]}
        assert violations == {"color-contrast": "serious", "link-name": "serious"}
        print(f"\naxe-core {page.evaluate('axe.version')}")
    finally:
        page.close()
