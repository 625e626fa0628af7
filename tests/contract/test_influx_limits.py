"""InfluxDB's own series cap (issue 12, item 6) holds on a real influxd.

An influxd of its own on a free loopback port, configured by
``infra/influxdb.sh config`` exactly as the local server is (only the cap made
small), so nothing here touches the shared server: once a database holds its
``max-series-per-database`` series, a point that would add one is refused and
points of existing series are still written.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CAP = 5


def _free_ports() -> int:
    """A port whose +2 (the RPC port the config derives) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket() as rpc:
                rpc.bind(("127.0.0.1", port + 2))
        except OSError:
            continue
        return port
    pytest.fail("no free pair of loopback ports")


def _influxd() -> Path:
    cache = Path(os.environ.get("CERC_CACHE", Path.home() / ".cache" / "cercollettiva"))
    for version in ("1.8.10", "1.8.9", "1.8.8"):
        binary = cache / f"influxdb-{version}" / "bin" / "influxd"
        if binary.exists():
            return binary
    pytest.fail(f"no influxd in {cache}/influxdb-*/bin (infra/influxdb.sh install builds it)")


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("influxdb")
    port = _free_ports()
    made = subprocess.run(
        ["bash", str(ROOT / "infra" / "influxdb.sh"), "config", str(home), str(port)],
        capture_output=True,
        text=True,
        env={**os.environ, "CERC_INFLUX_MAX_SERIES": str(CAP)},
        check=False,
    )
    assert made.returncode == 0, made.stderr
    config = Path(made.stdout.strip().splitlines()[-1])
    assert f"max-series-per-database = {CAP}" in config.read_text()
    log = (home / "influxd.log").open("ab")
    process = subprocess.Popen(
        [str(_influxd()), "run", "-config", str(config)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"influxd exited: {(home / 'influxd.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/ping", timeout=1).status_code == 204:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("influxd did not answer /ping within 90 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_database_takes_no_series_past_its_cap(influx: str) -> None:
    # Auth is on, as on the local server: the first user may be created without it.
    auth = ("cerc", "cerc_influx_test")  # a test's own key
    for statement in (
        "CREATE USER cerc WITH PASSWORD 'cerc_influx_test' WITH ALL PRIVILEGES",
        'CREATE DATABASE "capped"',
    ):
        response = httpx.post(f"{influx}/query", data={"q": statement}, auth=auth, timeout=10)
        assert response.status_code == 200 and '"error"' not in response.text, response.text

    def write(device: str) -> httpx.Response:
        line = f"energy_data,device_id={device},plant_id=1,source=manual energy_consumed=1 1"
        return httpx.post(
            f"{influx}/write", params={"db": "capped"}, content=line, auth=auth, timeout=10
        )

    for n in range(CAP):
        assert write(f"meter-{n}").status_code == 204
    refused = write("minted-by-a-caller")
    assert refused.status_code >= 400, refused.text
    assert "max-series-per-database" in refused.text
    assert write("meter-0").status_code == 204  # an existing series is still written
