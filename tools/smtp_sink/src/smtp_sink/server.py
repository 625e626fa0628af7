"""The SMTP server (aiosmtpd) and its HTTP reader (aiohttp), one process, one event loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from smtp_sink.store import MailStore

log = logging.getLogger("smtp_sink")

TEMPORARY_FAILURES = frozenset({421, 450, 451, 452})
PERMANENT_FAILURES = frozenset({550, 552, 553, 554})


@dataclass
class Faults:
    """Told over HTTP to refuse the next messages, so a sender's retries can be tested."""

    reject_next: int = 0
    code: int = 451


class SinkHandler:
    def __init__(self, store: MailStore, faults: Faults) -> None:
        self.store = store
        self.faults = faults

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.faults.reject_next > 0:
            self.faults.reject_next -= 1
            log.info("refused a message from %s (fault injected)", envelope.mail_from)
            kind = "4.3.0 temporary" if self.faults.code < 500 else "5.7.1 permanent"
            return f"{self.faults.code} {kind} failure injected by the sink"
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        stored = self.store.add(
            peer=peer,
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=raw,
        )
        log.info("stored message %d from %s to %s", stored, envelope.mail_from, envelope.rcpt_tos)
        return "250 OK stored"


def reader_app(store: MailStore, faults: Faults) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "messages": store.count()})

    @routes.get("/messages")
    async def list_messages(request: web.Request) -> web.Response:
        q = request.query
        try:
            since_id = int(q.get("since_id", "0"))
            limit = min(int(q.get("limit", "100")), 1000)
        except ValueError:
            return _error(400, "since_id and limit must be integers")
        found = store.list(to=q.get("to"), subject=q.get("subject"), since_id=since_id, limit=limit)
        return web.json_response({"messages": [m.summary() for m in found]})

    @routes.get(r"/messages/{id:\d+}")
    async def show_message(request: web.Request) -> web.Response:
        message = store.get(int(request.match_info["id"]))
        if message is None:
            return _error(404, "no such message")
        return web.json_response(message.detail())

    @routes.get(r"/messages/{id:\d+}/raw")
    async def raw_message(request: web.Request) -> web.Response:
        message = store.get(int(request.match_info["id"]))
        if message is None:
            return _error(404, "no such message")
        return web.Response(body=message.raw, content_type="message/rfc822")

    @routes.delete("/messages")
    async def clear(request: web.Request) -> web.Response:
        return web.json_response({"deleted": store.clear()})

    @routes.post("/faults")
    async def set_faults(request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
            reject_next = int(body.get("reject_next", 0))
            code = int(body.get("code", 451))
        except (ValueError, TypeError, AttributeError):
            return _error(400, 'expected {"reject_next": N, "code": 451}')
        if reject_next < 0 or code not in TEMPORARY_FAILURES | PERMANENT_FAILURES:
            allowed = sorted(TEMPORARY_FAILURES | PERMANENT_FAILURES)
            return _error(400, f"reject_next must be >= 0 and code one of {allowed}")
        faults.reject_next, faults.code = reject_next, code
        return web.json_response({"reject_next": reject_next, "code": code})

    app = web.Application()
    app.add_routes(routes)
    return app


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def serve(store: MailStore, host: str, smtp_port: int, http_port: int) -> None:
    faults = Faults()
    handler = SinkHandler(store, faults)
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink.local", enable_SMTPUTF8=True),
        host=host,
        port=smtp_port,
    )
    runner = web.AppRunner(reader_app(store, faults), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    log.info("SMTP on %s:%d, reader on http://%s:%d", host, smtp_port, host, http_port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    smtp_server.close()
    await smtp_server.wait_closed()
    await runner.cleanup()
    log.info("stopped")
