"""Serve the built web app (web/dist) for the gateway, standard library only.

    python scripts/web_server.py --root web/dist --port 18108

The gateway routes `/` here (everything outside /api/). Hashed files under
/assets/ are immutable and cached for a year; every other path is the app's
index.html (the app routes in the browser), never cached, so a new build is
picked up at the next page load. Files are gzipped once, in memory, for
clients that accept it. GET /healthz answers 200 for probes.

The Content-Security-Policy is the gateway's (gateway/envoy.yaml.tmpl); this
server sets the same one so the app is equally safe when reached directly
(Kubernetes probes, the e2e tests' direct checks).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Scripts and styles only from this origin: the built app has no inline
# script. Mantine sets CSS variables and style attributes at run time, hence
# 'unsafe-inline' for styles only.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".txt")


class Files:
    """The built files, read once; gzipped lazily and kept."""

    def __init__(self, root: Path) -> None:
        # The app may be built after the server starts (and rebuilt while it
        # runs): files are looked up per request and cached by their mtime.
        self.root = root.resolve()
        self._cache: dict[tuple[str, int, bool], bytes] = {}
        self._lock = threading.Lock()

    def find(self, path: str) -> Path | None:
        if not self.root.is_dir():
            return None
        candidate = (self.root / path.lstrip("/")).resolve()
        if candidate.is_file() and candidate.is_relative_to(self.root):
            return candidate
        return None

    def body(self, file: Path, compressed: bool) -> bytes:
        key = (str(file), file.stat().st_mtime_ns, compressed)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            raw = file.read_bytes()
            cached = gzip.compress(raw, compresslevel=9, mtime=0) if compressed else raw
            with self._lock:
                self._cache[key] = cached
        return cached


def handler_for(files: Files) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cerc-web"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the gateway logs every request

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if path == "/healthz":
                self._send(HTTPStatus.OK, b"ok\n", "text/plain", REVALIDATE, head, gzipped=False)
                return
            if path.startswith("/api/"):
                # Only reached directly, never through the gateway.
                self._send(
                    HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", REVALIDATE, head, False
                )
                return
            file = files.find(path) if path != "/" else None
            if file is not None and path.startswith("/assets/"):
                cache = IMMUTABLE
            elif path.startswith("/assets/"):
                # A hashed file that is gone (an old page after a deploy):
                # a 404, not index.html under a .js name.
                self._send(
                    HTTPStatus.NOT_FOUND, b"not found\n", "text/plain", REVALIDATE, head, False
                )
                return
            else:
                file = files.find("index.html") if file is None else file
                cache = REVALIDATE
            if file is None:
                message = b"the web app is not built: make web\n"
                self._send(
                    HTTPStatus.SERVICE_UNAVAILABLE, message, "text/plain", REVALIDATE, head, False
                )
                return
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "text/javascript"):
                kind += "; charset=utf-8"
            accepts = "gzip" in self.headers.get("Accept-Encoding", "")
            gzipped = accepts and file.suffix in COMPRESSIBLE
            body = files.body(file, gzipped)
            self._send(HTTPStatus.OK, body, kind, cache, head, gzipped)

        def _send(
            self, status: HTTPStatus, body: bytes, kind: str, cache: str, head: bool, gzipped: bool
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", cache)
            self.send_header("Content-Security-Policy", APP_CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Vary", "Accept-Encoding")
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", default=str(Path(__file__).resolve().parent.parent / "web" / "dist")
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Files(Path(args.root))))
    server.daemon_threads = True
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
