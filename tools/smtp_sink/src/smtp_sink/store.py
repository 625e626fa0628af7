"""The messages the sink received, in one SQLite file that the server writes and any reader opens.

WAL mode so the CLI and the HTTP reader can read while the server writes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    peer TEXT NOT NULL,
    mail_from TEXT NOT NULL,
    rcpt_tos TEXT NOT NULL,
    subject TEXT NOT NULL,
    message_id TEXT NOT NULL,
    raw BLOB NOT NULL
);
"""


@dataclass(frozen=True)
class StoredMessage:
    id: int
    received_at: str
    peer: str
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    message_id: str
    raw: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at,
            "peer": self.peer,
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "subject": self.subject,
            "message_id": self.message_id,
            "size": len(self.raw),
        }

    def parsed(self) -> EmailMessage:
        message = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(message, EmailMessage)
        return message

    def detail(self) -> dict[str, Any]:
        """The summary plus headers, the text and HTML parts and the attachments' names."""
        message = self.parsed()
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return {
            **self.summary(),
            "headers": [[k, str(v)] for k, v in message.items()],
            "text": text.get_content() if isinstance(text, EmailMessage) else None,
            "html": html.get_content() if isinstance(html, EmailMessage) else None,
            "attachments": [
                {"filename": part.get_filename(), "content_type": part.get_content_type()}
                for part in message.iter_attachments()
                if isinstance(part, EmailMessage)
            ],
        }


class MailStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, *, peer: str, mail_from: str, rcpt_tos: list[str], raw: bytes) -> int:
        headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
        cursor = self._db.execute(
            "INSERT INTO messages (received_at, peer, mail_from, rcpt_tos, subject, message_id,"
            " raw) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                datetime.now(UTC).isoformat(timespec="milliseconds"),
                peer,
                mail_from,
                json.dumps(rcpt_tos),
                str(headers.get("Subject", "")),
                str(headers.get("Message-ID", "")),
                raw,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def list(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        since_id: int = 0,
        limit: int = 100,
    ) -> list[StoredMessage]:
        """Oldest first; `to` matches a recipient exactly (case-insensitive), `subject` a part."""
        sql = "SELECT * FROM messages WHERE id > ?"
        args: list[Any] = [since_id]
        if to:
            sql += " AND EXISTS (SELECT 1 FROM json_each(rcpt_tos) WHERE lower(value) = lower(?))"
            args.append(to)
        if subject:
            sql += " AND instr(lower(subject), lower(?)) > 0"
            args.append(subject)
        sql += " ORDER BY id LIMIT ?"
        args.append(limit)
        return [_row(r) for r in self._db.execute(sql, args)]

    def get(self, message_id: int) -> StoredMessage | None:
        row = self._db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
        return _row(row) if row else None

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])

    def clear(self) -> int:
        return self._db.execute("DELETE FROM messages").rowcount


def _row(r: tuple[Any, ...]) -> StoredMessage:
    return StoredMessage(
        id=r[0],
        received_at=r[1],
        peer=r[2],
        mail_from=r[3],
        rcpt_tos=json.loads(r[4]),
        subject=r[5],
        message_id=r[6],
        raw=bytes(r[7]),
    )
