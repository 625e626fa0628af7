"""`python -m smtp_sink serve|list|show|clear|ready`.

serve  run the SMTP server (SMTP_PORT) and its HTTP reader (SMTP_READER_PORT)
list   the stored messages, oldest first (`--to ADDRESS`, `--json`)
show   one message: headers and text (`--raw` for the message as received)
clear  forget every message
ready  one real SMTP EHLO/NOOP and one HTTP GET /health (exit 1 if either fails)

Ports come from the environment (infra/ports.env is exported by the infra scripts) or, when
unset, from infra/ports.env itself; the messages from --db, SMTP_SINK_DB or
.run/smtp-sink/messages.sqlite3 in the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import smtplib
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from smtp_sink.server import serve
from smtp_sink.store import MailStore


def _repo_root() -> Path:
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in (start, *start.parents):
            if (parent / "infra" / "ports.env").is_file():
                return parent
    raise SystemExit("smtp_sink: cannot find the repository (infra/ports.env); pass --db")


def _port(name: str) -> int:
    if os.environ.get(name):
        return int(os.environ[name])
    for line in (_repo_root() / "infra" / "ports.env").read_text().splitlines():
        key, _, value = line.strip().partition("=")
        if key == name:
            return int(value)
    raise SystemExit(f"smtp_sink: {name} is neither in the environment nor in infra/ports.env")


def _db_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("SMTP_SINK_DB"):
        return Path(os.environ["SMTP_SINK_DB"])
    return _repo_root() / ".run" / "smtp-sink" / "messages.sqlite3"


def _ready(host: str, smtp_port: int, http_port: int) -> int:
    try:
        with smtplib.SMTP(host, smtp_port, timeout=5) as smtp:
            code, _ = smtp.ehlo("readiness-check")
            if code != 250:
                raise OSError(f"EHLO answered {code}")
            code, _ = smtp.noop()
            if code != 250:
                raise OSError(f"NOOP answered {code}")
        url = f"http://{host}:{http_port}/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            json.load(response)
    except (OSError, smtplib.SMTPException, ValueError) as e:
        print(f"smtp_sink: not ready: {e}", file=sys.stderr)
        return 1
    print(f"smtp_sink: ready: SMTP {host}:{smtp_port}, reader http://{host}:{http_port}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smtp_sink", description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="the SQLite file of messages")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the SMTP server and its HTTP reader")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--smtp-port", type=int)
    serve_cmd.add_argument("--http-port", type=int)
    list_cmd = commands.add_parser("list", help="the stored messages, oldest first")
    list_cmd.add_argument("--to", help="only messages to this recipient")
    list_cmd.add_argument("--json", action="store_true")
    show_cmd = commands.add_parser("show", help="one message")
    show_cmd.add_argument("id", type=int)
    show_cmd.add_argument("--raw", action="store_true", help="the message as received")
    commands.add_parser("clear", help="forget every message")
    ready_cmd = commands.add_parser("ready", help="check that both servers answer")
    ready_cmd.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    if args.command == "ready":
        return _ready(args.host, _port("SMTP_PORT"), _port("SMTP_READER_PORT"))
    store = MailStore(_db_path(args.db))
    if args.command == "serve":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        smtp_port = args.smtp_port or _port("SMTP_PORT")
        http_port = args.http_port or _port("SMTP_READER_PORT")
        asyncio.run(serve(store, args.host, smtp_port, http_port))
    elif args.command == "list":
        messages = store.list(to=args.to, limit=10_000)
        if args.json:
            json.dump([m.summary() for m in messages], sys.stdout, indent=2)
            print()
        for m in [] if args.json else messages:
            print(f"{m.id:>5}  {m.received_at}  {m.mail_from} -> {', '.join(m.rcpt_tos)}")
            print(f"       {m.subject}")
    elif args.command == "show":
        message = store.get(args.id)
        if message is None:
            print(f"smtp_sink: no message {args.id}", file=sys.stderr)
            return 1
        if args.raw:
            sys.stdout.buffer.write(message.raw)
        else:
            detail = message.detail()
            for name, value in detail["headers"]:
                print(f"{name}: {value}")
            print()
            print(detail["text"] if detail["text"] is not None else detail["html"] or "")
            for attachment in detail["attachments"]:
                print(f"[attachment] {attachment['filename']} ({attachment['content_type']})")
    elif args.command == "clear":
        print(f"smtp_sink: {store.clear()} messages deleted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
