"""Both photo stores: the local folder and S3 (moto's server, real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.photostore import LocalPhotoStore, S3PhotoStore
from tests.http import free_port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto), started once per test process."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_store(endpoint: str, bucket: str) -> S3PhotoStore:
    import boto3

    client: Any = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=bucket)
    return S3PhotoStore(bucket, prefix="city", client=client)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LocalPhotoStore | S3PhotoStore:
    """Each test that takes ``store`` runs on the folder and on S3."""
    if request.param == "local":
        return LocalPhotoStore(tmp_path / "photos")
    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_store(endpoint, f"photos-{abs(hash(request.node.nodeid)) % 10**12}")
