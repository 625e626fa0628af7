"""The store's contract, held by both stores: the local directory, and an
S3-compatible bucket through boto3 against moto's S3 server on loopback (a
real HTTP server speaking S3: no S3 is reachable from here)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from reporting_service.storage import LocalStore, ReportStore, S3Store


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str
) -> AsyncIterator[ReportStore]:
    if request.param == "local":
        yield LocalStore(tmp_path)
        return
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="eu-south-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = f"reports-{tmp_path.name.lower().replace('_', '-')}"[:63]
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-south-1"}
    )
    yield S3Store(client, bucket, prefix="reports/")


async def test_a_stored_file_is_read_back_whole(store: ReportStore) -> None:
    data = bytes(range(256)) * 1000
    await store.put("report-1/cer1-report-2025-06-it.pdf", data, "application/pdf")
    assert await store.get("report-1/cer1-report-2025-06-it.pdf") == data


async def test_writing_again_replaces(store: ReportStore) -> None:
    await store.put("report-2/a.csv", b"first", "text/csv")
    await store.put("report-2/a.csv", b"second", "text/csv")
    assert await store.get("report-2/a.csv") == b"second"


async def test_a_missing_file_is_file_not_found(store: ReportStore) -> None:
    with pytest.raises(FileNotFoundError):
        await store.get("report-3/none.pdf")


async def test_keys_cannot_climb_out(store: ReportStore) -> None:
    for key in ("../x", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError):
            await store.put(key, b"x", "text/plain")
