"""The SMTP sink over real SMTP and HTTP: the one started by `make infra-up` (infra/smtp-sink.sh),
and for the CLI a private one on free ports with its own database (so `clear` forgets nobody
else's mail). Each test writes to its own recipients, so mails of other runs do not interfere.
"""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


def _ports() -> dict[str, int]:
    values = {}
    for line in (ROOT / "infra" / "ports.env").read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key] = int(value)
    return values


SMTP_PORT = _ports()["SMTP_PORT"]
READER = f"http://127.0.0.1:{_ports()['SMTP_READER_PORT']}"


@pytest.fixture(scope="module", autouse=True)
def sink_running() -> None:
    try:
        httpx.get(f"{READER}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as e:
        pytest.fail(f"the SMTP sink is not running on {READER} (run `make infra-up`): {e}")


def _address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.test"


def _message(to: list[str], subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "CerCollettiva <noreply@cercollettiva.test>"
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@cercollettiva.test>"
    message.set_content("Il riparto di giugno attende la tua approvazione: 1.234,56 €")
    message.add_alternative(
        "<p>Il riparto di giugno attende la tua <b>approvazione</b></p>", "html"
    )
    return message


async def _stored(to: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=READER, timeout=5) as reader:
        response = await reader.get("/messages", params={"to": to})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def test_mail_sent_with_aiosmtplib_is_read_back() -> None:
    manager, treasurer, other = _address("manager"), _address("treasurer"), _address("other")
    sent = _message([manager, treasurer], "Riparto di giugno da approvare ✓")
    await aiosmtplib.send(sent, hostname="127.0.0.1", port=SMTP_PORT, start_tls=False)

    for recipient in (manager, treasurer.upper()):
        found = await _stored(recipient)
        assert len(found) == 1, recipient
    assert await _stored(other) == []
    summary = (await _stored(manager))[0]
    assert summary["subject"] == "Riparto di giugno da approvare ✓"
    assert summary["mail_from"] == "noreply@cercollettiva.test"
    assert sorted(summary["rcpt_tos"]) == sorted([manager, treasurer])
    assert summary["message_id"] == sent["Message-ID"]

    async with httpx.AsyncClient(base_url=READER, timeout=5) as reader:
        detail = (await reader.get(f"/messages/{summary['id']}")).json()
        raw = await reader.get(f"/messages/{summary['id']}/raw")
    assert "1.234,56 €" in detail["text"]
    assert "<b>approvazione</b>" in detail["html"]
    assert raw.headers["content-type"].startswith("message/rfc822")
    parsed = BytesParser(policy=policy.default).parsebytes(raw.content)
    assert parsed["Message-ID"] == sent["Message-ID"]
    assert parsed["Subject"] == sent["Subject"]


async def test_injected_temporary_failure_refuses_then_accepts() -> None:
    recipient = _address("retry")
    reader = httpx.AsyncClient(base_url=READER, timeout=5)
    set_fault = await reader.post("/faults", json={"reject_next": 1, "code": 451})
    assert set_fault.status_code == 200
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await aiosmtplib.send(
                _message([recipient], "first try"),
                hostname="127.0.0.1",
                port=SMTP_PORT,
                start_tls=False,
            )
        assert refused.value.code == 451
        assert await _stored(recipient) == []
        await aiosmtplib.send(
            _message([recipient], "second try"),
            hostname="127.0.0.1",
            port=SMTP_PORT,
            start_tls=False,
        )
    finally:
        await reader.post("/faults", json={"reject_next": 0})
        await reader.aclose()
    assert [m["subject"] for m in await _stored(recipient)] == ["second try"]


def test_fault_request_is_checked() -> None:
    bad = httpx.post(f"{READER}/faults", json={"reject_next": 1, "code": 250}, timeout=5)
    assert bad.status_code == 400
    assert httpx.get(f"{READER}/messages/999999999", timeout=5).status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def private_sink(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """A sink of this test's own, so `clear` is tested without touching the shared one."""
    db, smtp_port, http_port = tmp_path / "mail.sqlite3", _free_port(), _free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "smtp_sink", "--db", str(db), "serve"),
            *("--smtp-port", str(smtp_port), "--http-port", str(http_port)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {**os.environ, "SMTP_PORT": str(smtp_port), "SMTP_READER_PORT": str(http_port)}
        deadline = time.monotonic() + 20
        while subprocess.run(
            [sys.executable, "-m", "smtp_sink", "ready"], env=env, capture_output=True
        ).returncode:
            assert process.poll() is None, "the private sink exited"
            assert time.monotonic() < deadline, "the private sink did not become ready"
            time.sleep(0.2)
        yield db, smtp_port, http_port
    finally:
        process.terminate()
        process.wait(10)


def _cli(db: Path, *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "-m", "smtp_sink", "--db", str(db), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return run.stdout


def test_cli_lists_shows_and_clears(private_sink: tuple[Path, int, int]) -> None:
    db, smtp_port, _ = private_sink
    first, second = _address("first"), _address("second")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:  # another client, stdlib's
        for to, subject in ((first, "Benvenuto nella CER"), (second, "Nuovo accesso")):
            smtp.send_message(_message([to], subject))

    listing = _cli(db, "list")
    assert "Benvenuto nella CER" in listing and "Nuovo accesso" in listing
    only_second = _cli(db, "list", "--to", second)
    assert "Nuovo accesso" in only_second and "Benvenuto" not in only_second
    shown = _cli(db, "show", "1")
    assert "Subject: Benvenuto nella CER" in shown
    assert "1.234,56 €" in shown
    assert (
        b"Subject: Benvenuto nella CER"
        in subprocess.run(
            [sys.executable, "-m", "smtp_sink", "--db", str(db), "show", "1", "--raw"],
            capture_output=True,
            check=True,
        ).stdout
    )
    assert "2 messages deleted" in _cli(db, "clear")
    assert _cli(db, "list", "--json").strip() == "[]"
