"""A client that keeps messages flowing through nginx: as the composer without JavaScript posts,
or, with ``api_token``, as a bot posts over the HTTP API.

One guest (a session cookie from loading the room) posts "m1", "m2", ... every ``interval``, one
at a time; a bot posts "<prefix>1", ... with each post's ``Idempotency-Key``. A post without an
answer (the connection failed, or nginx answered 5xx because the process it reached stopped
mid-request; for a bot also 429) is sent again with the same nonce or key until it is answered:
the server stores it once however often it arrives.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit


class Poster:
    def __init__(
        self,
        base_url: str,
        room_path: str,
        interval: float = 0.1,
        give_up_after: float = 30,
        api_token: str = "",
        prefix: str = "m",
    ) -> None:
        self.base_url = base_url
        self.api_token = api_token
        self.prefix = prefix
        self.netloc = urlsplit(base_url).netloc
        self.room_path = room_path
        self.interval = interval
        self.give_up_after = give_up_after
        self.cookies: dict[str, str] = {}
        self.sent: list[str] = []  # answered, in the order posted
        self.retries = 0
        self.failures: list[str] = []  # what each failed attempt got
        self.unanswered = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Poster:
        if self.api_token:
            self._thread.start()
            return self
        status = self._request("GET", self.room_path)
        assert status == 200 and {"sessionid", "csrftoken"} <= set(self.cookies), (status, self.cookies)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=self.give_up_after + 5)

    def _run(self) -> None:
        n = 0
        while not self._stopping.is_set():
            n += 1
            text, nonce = f"{self.prefix}{n}", f"rolling-{n}"
            deadline = time.monotonic() + self.give_up_after
            while (outcome := self._post(text, nonce)) not in ("201", "200", "302"):
                self.failures.append(outcome)
                self.retries += 1
                if time.monotonic() > deadline:
                    self.unanswered += 1
                    return
                time.sleep(0.05)
            self.sent.append(text)
            self._stopping.wait(self.interval)

    def _post(self, text: str, nonce: str) -> str:
        try:
            if self.api_token:
                headers = {"Authorization": f"Bearer {self.api_token}", "Idempotency-Key": nonce}
                body = json.dumps({"text": text})
                return str(self._request("POST", f"/api{self.room_path}messages/", body, "application/json", headers))
            form = {"csrfmiddlewaretoken": self.cookies["csrftoken"], "message": text, "nonce": nonce}
            return str(self._request("POST", f"{self.room_path}messages/", urlencode(form)))
        except (OSError, http.client.HTTPException) as error:
            return type(error).__name__

    def _request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        extra: dict[str, str] | None = None,
    ) -> int:
        conn = http.client.HTTPConnection(self.netloc, timeout=10)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Origin": self.base_url}
        headers.update(extra or {})
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie: SimpleCookie = SimpleCookie(header)
                self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
            return response.status
        finally:
            conn.close()
