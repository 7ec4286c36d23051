"""Drain before shutdown, so that keep-alive clients move to other replicas without a failed request.

A client holding a keep-alive connection keeps sending to this process after its pod left the
Service's endpoints. Uvicorn's shutdown closes idle connections at once, and a request sent on one
just then is lost. On SIGTERM, `Drain` first keeps serving for `seconds` with `Connection: close` on
every response (and /readyz at 503): each client reconnects, through the Service, to a replica that
stays. Then the server's own handler runs: stop accepting, finish in-flight requests, exit.
"""

import signal
import threading
import time
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_core.logs import get_logger

log = get_logger(__name__)

Handler = Any  # what signal.getsignal returns: a callable, SIG_DFL, SIG_IGN or None


class Drain:
    """The draining state of one server process, and the SIGTERM handler that starts it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started_at: float | None = None
        self._server_handler: Handler = None

    @property
    def active(self) -> bool:
        return self.started_at is not None

    def install(self) -> bool:
        """Take over SIGTERM from the server (Uvicorn installs its handler before the app starts).

        Only the main thread can handle signals; elsewhere (a server in a thread) nothing changes."""
        if self.seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return False
        self._server_handler = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        return True

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self.active:  # a second SIGTERM: shut down now
            self._hand_over(signum, frame)
            return
        self.started_at = time.monotonic()
        # Logging and waiting happen off the signal handler (it may interrupt a held logging lock).
        threading.Thread(target=self._drain_then_hand_over, args=(signum, frame), daemon=True).start()

    def _drain_then_hand_over(self, signum: int, frame: FrameType | None) -> None:
        log.info("draining: closing each connection after its response", seconds=self.seconds)
        time.sleep(self.seconds)
        log.info("drained; shutting down")
        self._hand_over(signum, frame)

    def _hand_over(self, signum: int, frame: FrameType | None) -> None:
        handler = self._server_handler
        if callable(handler):
            handler(signum, frame)
        elif handler != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)


def closing_send(send: Send) -> Send:
    """`send`, with `Connection: close` put on the response's headers."""

    async def send_closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
            message = {**message, "headers": [*headers, (b"connection", b"close")]}
        await send(message)

    return send_closing


class CloseConnectionsWhileDraining:
    """ASGI middleware: while `drain` is active, every HTTP response asks the client to close."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app, self.drain = app, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.active:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, closing_send(send))
