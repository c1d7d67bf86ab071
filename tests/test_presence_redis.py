"""Who is here, across two daphne processes on a Redis server the test starts, restarts and
outlives: people appear in both processes, a Redis restart loses nobody still there, and the
people of a SIGKILLed process disappear within the expiry plus one sweep."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import urllib.request

import pytest

from rooms import writes
from tests.servers import Daphne
from tests.test_faults import daphnes, redis_server  # noqa: F401  (fixtures)
from tests.wsclient import PageSocket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

# Short, so the test is quick; the defaults (10 s / 25 s / 5 s) scale the same bound.
REFRESH, TTL, SWEEP = 0.5, 2.0, 0.5


def guest_cookie(server: Daphne) -> dict[str, str]:
    """A browser's session on that server (a guest, with the key the lobby gave it)."""
    with urllib.request.urlopen(server.url + "/") as response:
        cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie")]
    return {"Cookie": "; ".join(c for c in cookies if c.startswith("sessionid="))}


def listed(page: PageSocket) -> list[str] | None:
    """The author keys of the newest presence list the page was sent."""
    for frame in reversed(page.frames):
        found = re.search(r'<span id="presence-list"[^>]*>(?:<span[^>]*>[^<]*</span>)*</span>', frame)
        if found:
            return re.findall(r'data-key="([^"]+)"', found.group(0))
    return None


def test_presence_across_processes_survives_a_redis_restart_and_forgets_a_killed_process(redis_server, daphnes):  # noqa: F811
    env = {
        "REDIS_URL": redis_server.url,
        "ROOMS_PRESENCE_REFRESH_SECONDS": str(REFRESH),
        "ROOMS_PRESENCE_TTL_SECONDS": str(TTL),
        "ROOMS_PRESENCE_SWEEP_SECONDS": str(SWEEP),
    }
    one, two = daphnes(env=env), daphnes(env=env)
    room = writes.get_or_create_room("across")[0]

    async def scenario() -> dict[str, float]:
        alice = await PageSocket(one.url, room.slug, headers=guest_cookie(one)).start()
        await alice.wait_until(lambda: listed(alice) is not None and len(listed(alice)) == 1, timeout=5)
        (alice_key,) = listed(alice)
        started = time.monotonic()
        bob = await PageSocket(two.url, room.slug, headers=guest_cookie(two)).start()
        await alice.wait_until(lambda: len(listed(alice) or ()) == 2, timeout=5)
        appeared = time.monotonic() - started
        await bob.wait_until(lambda: listed(bob) == listed(alice), timeout=5)
        everyone = listed(alice)

        # Redis restarts empty: the pages reconnect (the layer watch), and everyone is back.
        opens = alice.opens, bob.opens
        redis_server.stop()
        redis_server.start()
        for page, before in zip((alice, bob), opens, strict=True):
            await page.wait_until(lambda p=page, b=before: p.opens > b and p.live.is_set(), timeout=30)
        for page in (alice, bob):
            try:
                await page.wait_until(lambda p=page: listed(p) == everyone, timeout=15)
            except TimeoutError:
                raise AssertionError(f"after the restart {listed(page)} != {everyone}; {page.opens} opens") from None

        # Bob's process dies without a word: Alice's list drops him by itself.
        killed = time.monotonic()
        two.stop(signal.SIGKILL)
        await alice.wait_until(lambda: listed(alice) == [alice_key], timeout=TTL + 5 * SWEEP + 5)
        gone = time.monotonic() - killed
        await alice.stop()
        await bob.stop()
        return {"appeared": appeared, "gone": gone}

    timings = asyncio.run(scenario())
    print(
        f"presence across processes: appeared in {timings['appeared']:.2f} s,"
        f" a killed process's people gone in {timings['gone']:.2f} s"
    )
    assert timings["appeared"] < 2.0, timings
    # The bound: the expiry, plus a sweep, plus the hub's settle; well under Campfire's 60 s.
    assert timings["gone"] <= TTL + 2 * SWEEP + 1.5, timings
