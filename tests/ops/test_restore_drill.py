"""The restore drill: write, back up, destroy, restore, count.

Runs infra/backup.sh (pgBackRest with WAL archiving; influxd's portable
backup) against a PostgreSQL cluster and an influxd of its OWN, on
DRILL_PG_PORT and DRILL_INFLUX_PORT (infra/ports.env), in a temporary
directory: it destroys their data on purpose, so it never touches the shared
servers the other tests use.

What it shows:
- every row written before the base backup, and every row written after it
  whose WAL segment was archived, is back after the data directory is deleted
  and restored (point-in-time replay of the archive);
- every reading written to InfluxDB before its backup is back after its data
  is deleted;
- RTO: how long the restore took, from an empty data directory to a cluster
  answering queries and the readings readable;
- RPO: what was lost -- the rows written after the last archived segment, and
  the readings written after the InfluxDB backup (which the energy service
  replays from Kafka; README "Operations").
The figures are printed (speed is measured, never asserted).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from cerc_shared.testing import ports, repo_root

ROOT = repo_root()
BACKUP_SH = ROOT / "infra" / "backup.sh"
SERVICES = ("user", "cer", "energy")
AS_ROOT = os.geteuid() == 0


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[4]))
    if os.environ.get("CERC_PG_BINDIR"):
        return Path(os.environ["CERC_PG_BINDIR"])
    if not found:
        pytest.fail(
            "no PostgreSQL binaries in /usr/lib/postgresql (infra/postgres.sh installs them)"
        )
    return found[-1].parent


def _influxd() -> Path:
    cache = Path(os.environ.get("CERC_CACHE", Path.home() / ".cache" / "cercollettiva"))
    for version in ("1.8.10", "1.8.9", "1.8.8"):
        binary = cache / f"influxdb-{version}" / "bin" / "influxd"
        if binary.exists():
            return binary
    pytest.fail(f"no influxd in {cache}/influxdb-*/bin (infra/influxdb.sh install builds it)")


def _as_pg(*cmd: str | Path) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *map(str, cmd)] if AS_ROOT else list(map(str, cmd))


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@dataclass
class Drill:
    home: Path
    pg_port: int
    influx_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.home / "pg" / "data"

    @property
    def sock(self) -> Path:
        return self.home / "pg" / "sock"

    @property
    def influx_dir(self) -> Path:
        return self.home / "influx"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influx_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CERC_BACKUP_DIR": str(self.home / "backup"),
            "CERC_BACKUP_PG_DATA": str(self.data),
            "CERC_BACKUP_PG_PORT": str(self.pg_port),
            "CERC_BACKUP_PG_SOCKET": str(self.sock),
            "CERC_BACKUP_PG_USER": "postgres",
            "CERC_BACKUP_INFLUX_RPC": f"127.0.0.1:{self.influx_port + 2}",
            "CERC_BACKUP_INFLUX_URL": self.influx_url,
            "CERC_BACKUP_INFLUX_USER": "",
            "CERC_BACKUP_INFLUX_DB": "cercollettiva",
        }

    def backup_sh(self, *args: str) -> str:
        return _run(["bash", str(BACKUP_SH), *args], env=self.env())

    # ------------------------------------------------------------ PostgreSQL
    def pg_init(self) -> None:
        (self.home / "pg").mkdir(parents=True)
        self.sock.mkdir()
        if AS_ROOT:
            shutil.chown(self.home / "pg", "postgres")
            shutil.chown(self.sock, "postgres")
        _run(_as_pg(_pg_bin() / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust"))
        archive = self.backup_sh("archive-command").strip()
        conf = (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.pg_port}\n"
            f"unix_socket_directories = '{self.sock}'\n"
            "wal_level = replica\n"
            "archive_mode = on\n"
            f"archive_command = '{archive}'\n"
            # The production setting (RPO of minutes): a segment is archived
            # at the latest this long after its first write.
            "archive_timeout = 60\n"
            "shared_buffers = 32MB\n"
        )
        _run(_as_pg("sh", "-c", f"cat >> '{self.data}/postgresql.conf' <<'EOF'\n{conf}EOF"))

    def pg_start(self) -> None:
        log = self.home / "pg" / "postgres.log"
        _run(_as_pg(_pg_bin() / "pg_ctl", "-D", self.data, "-l", log, "-w", "-t", "120", "start"))

    def pg_stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_pg(_pg_bin() / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"),
                capture_output=True,
                timeout=120,
            )

    async def pg(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1", port=self.pg_port, user="postgres", database="postgres"
        )

    # ------------------------------------------------------------ InfluxDB
    def influx_start(self) -> subprocess.Popen[bytes]:
        self.influx_dir.mkdir(exist_ok=True)
        conf = self.influx_dir / "influxdb.conf"
        conf.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.influx_port + 2}"\n'
            f'[meta]\n  dir = "{self.influx_dir}/meta"\n'
            f'[data]\n  dir = "{self.influx_dir}/data"\n  wal-dir = "{self.influx_dir}/wal"\n'
            "  query-log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.influx_port}"\n'
            "  auth-enabled = false\n  log-enabled = false\n  flux-enabled = false\n"
        )
        log = (self.influx_dir / "influxd.log").open("ab")
        process = subprocess.Popen(
            [str(_influxd()), "run", "-config", str(conf)], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"influxd exited: see {self.influx_dir / 'influxd.log'}")
            try:
                if httpx.get(f"{self.influx_url}/ping", timeout=1).status_code == 204:
                    return process
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail("the drill's influxd did not answer /ping within 90 s")

    def influxql(self, query: str) -> dict[str, object]:
        response = httpx.post(f"{self.influx_url}/query", data={"q": query}, timeout=30)
        response.raise_for_status()
        body: dict[str, object] = response.json()
        assert "error" not in str(body), body
        return body

    def write_readings(self, start: int, count: int) -> None:
        # Reading i: produced_kwh i/100 at i seconds after the epoch.
        lines = "\n".join(
            f"energy,plant_id=7,device_id=drill-{i % 10} produced_kwh={i / 100} {i}000000000"
            for i in range(start, start + count)
        )
        response = httpx.post(
            f"{self.influx_url}/write",
            params={"db": "cercollettiva"},
            content=lines.encode(),
            timeout=30,
        )
        assert response.status_code == 204, response.text

    def readings(self) -> set[int]:
        body = self.influxql("SELECT produced_kwh FROM cercollettiva.autogen.energy")
        series = body["results"][0].get("series", [])  # type: ignore[index]
        if not series:
            return set()
        return {round(value * 100) for _, value in series[0]["values"]}


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def drill() -> Iterator[Drill]:
    p = ports()
    pg_port, influx_port = int(p["DRILL_PG_PORT"]), int(p["DRILL_INFLUX_PORT"])
    for port in (pg_port, influx_port, influx_port + 2):
        assert _free(port), f"127.0.0.1:{port} is taken: is another drill running?"
    # World-readable parent: the postgres OS user must reach its directories.
    home = Path(tempfile.mkdtemp(prefix="cerc-drill-"))
    home.chmod(0o755)
    d = Drill(home, pg_port, influx_port)
    try:
        yield d
    finally:
        d.pg_stop("immediate")
        for process in d.processes:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(home, ignore_errors=True)


async def _insert(conn: asyncpg.Connection, phase: str, n: int) -> None:
    for service in SERVICES:
        await conn.execute(
            f'INSERT INTO "{service}".drill_rows (phase, seq)'  # noqa: S608 - fixed names
            " SELECT $1, g FROM generate_series(1, $2) g",
            phase,
            n,
        )


async def _rows(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for service in SERVICES:
        rows = await conn.fetch(
            f'SELECT phase, count(*) AS n FROM "{service}".drill_rows GROUP BY phase'  # noqa: S608
        )
        counts[service] = {r["phase"]: r["n"] for r in rows}
    return counts


async def _wait_archived(conn: asyncpg.Connection, segment: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        last = await conn.fetchval("SELECT last_archived_wal FROM pg_stat_archiver")
        if last is not None and last >= segment:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"WAL segment {segment} not archived within {within_s} s")


def test_restore_drill_brings_back_everything_before_the_backup_point(drill: Drill) -> None:
    asyncio.run(_drill(drill))


async def _drill(d: Drill) -> None:
    processes = d.processes
    d.pg_init()
    d.pg_start()
    processes.append(d.influx_start())
    d.influxql("CREATE DATABASE cercollettiva")

    conn = await d.pg()
    for service in SERVICES:
        await conn.execute(
            f'CREATE SCHEMA "{service}"; CREATE TABLE "{service}".drill_rows ('
            " id bigserial PRIMARY KEY, phase text NOT NULL, seq int NOT NULL,"
            " written_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    # Before the backups.
    await _insert(conn, "before-backup", 1000)
    d.write_readings(0, 2000)

    d.backup_sh("backup")
    backup_at = time.time()

    # After the base backup, archived: must come back (WAL replay).
    await _insert(conn, "archived", 500)
    switched = await conn.fetchval("SELECT pg_walfile_name(pg_switch_wal())")
    await _wait_archived(conn, switched)
    last_archived_at = await conn.fetchval(
        'SELECT max(written_at) FROM "user".drill_rows WHERE phase = $1', "archived"
    )
    # After the last archived segment: in the segment being filled, lost with
    # the disk. And readings after the InfluxDB backup.
    await _insert(conn, "unarchived", 100)
    last_written_at = await conn.fetchval(
        'SELECT max(written_at) FROM "user".drill_rows WHERE phase = $1', "unarchived"
    )
    d.write_readings(2000, 300)
    lost_readings_window_s = time.time() - backup_at
    await conn.close()

    # ---- disaster: both data directories gone, the processes with them.
    d.pg_stop("immediate")
    shutil.rmtree(d.data)
    influxd = processes.pop()
    influxd.terminate()
    influxd.wait(30)
    shutil.rmtree(d.influx_dir)

    # ---- restore: from empty directories to both answering with the data.
    started = time.monotonic()
    d.backup_sh("restore-pg")
    d.pg_start()
    conn = await d.pg()
    while await conn.fetchval("SELECT pg_is_in_recovery()"):  # noqa: ASYNC110 - polling the server
        await asyncio.sleep(0.1)
    processes.append(d.influx_start())
    d.backup_sh("restore-influx")
    restored = await _rows(conn)
    readings = d.readings()
    rto_s = time.monotonic() - started
    last_restored_at = await conn.fetchval('SELECT max(written_at) FROM "user".drill_rows')
    await conn.close()

    # Every row before the backup point, and every archived one, is back.
    for service in SERVICES:
        assert restored[service]["before-backup"] == 1000, (service, restored[service])
        assert restored[service]["archived"] == 500, (service, restored[service])
    assert set(range(0, 2000)) <= readings, (
        f"{2000 - len(readings & set(range(2000)))} readings missing"
    )

    lost_rows = sum(100 - restored[s].get("unarchived", 0) for s in SERVICES)
    lost_readings = 300 - len(readings & set(range(2000, 2300)))
    rpo_pg_s = max(0.0, (last_written_at - max(last_restored_at, last_archived_at)).total_seconds())
    print(
        "\nrestore drill "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL {_pg_bin().parts[4]}, "
        f"pgBackRest, influxd {_influxd().parts[-3].removeprefix('influxdb-')}):\n"
        f"  RTO  {rto_s:.1f} s   empty data directories -> PostgreSQL promoted after WAL replay "
        f"+ InfluxDB restored, both answering\n"
        f"  PostgreSQL: back {sum(r['before-backup'] for r in restored.values())} of 3000 rows "
        f"before the base backup, {sum(r['archived'] for r in restored.values())} of 1500 "
        "written after it and archived\n"
        f"  RPO  PostgreSQL: {lost_rows} of 300 rows lost (written after the last archived "
        f"segment; {rpo_pg_s:.2f} s of writes; archive_timeout bounds it at 60 s)\n"
        f"  RPO  InfluxDB: {lost_readings} of 300 readings lost (written in the "
        f"{lost_readings_window_s:.1f} s after its backup; replayed from Kafka in production)"
    )
