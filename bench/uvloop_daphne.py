"""daphne with uvloop as the asyncio event loop under Twisted, for ``compare.py --servers
madang-uvloop``: the same daphne command line, the same Twisted asyncio reactor, only the loop
implementation differs (daphne creates its loop with ``asyncio.new_event_loop()`` when
``daphne.server`` is imported, so the policy is set before that).

    .venv/bin/python bench/uvloop_daphne.py -b 127.0.0.1 -p 8000 project.asgi:application
"""

import asyncio
import sys

import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

from daphne.cli import CommandLineInterface  # noqa: E402  (after the policy, on purpose)

if __name__ == "__main__":
    sys.argv[0] = "daphne"
    CommandLineInterface.entrypoint()
