"""Google Cloud played locally: the fake Vertex AI JobService and Cloud Logging
(tests/fakes/vertex.py), a Cloud Storage emulator (gcp-storage-emulator, in memory, on
loopback) with a staging bucket, and a vertex queue that points at them. Imported as kit.gcp;
the `vertex` and `gcs` fixtures are registered in tests/conftest.py."""

import pytest

from runners.catalog.queues import check_queue_config

STAGING_BUCKET = "lb-staging"
VERTEX_ARGS = {
    "spec": {
        "worker_pool_specs": [
            {"machine_spec": {"machine_type": "n1-standard-4"}, "replica_count": 1}
        ],
        "staging_bucket": f"gs://{STAGING_BUCKET}",
        "labels": {"team": "vision"},
        "scheduling": {"timeout": 3600, "strategy": "SPOT"},
    },
    "run": {"service_account": "trainer@launchbay-test.iam.gserviceaccount.com"},
}


@pytest.fixture
def vertex(monkeypatch):
    from fakes.vertex import FakeVertex  # grpc and the fake: loaded by the tests that use it

    fake = FakeVertex()  # jobs stay RUNNING until the test releases them
    fake.start()
    monkeypatch.setenv("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", fake.ca_file)
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("GOOGLE_CLOUD_REGION", raising=False)
    yield fake
    fake.stop()


class Gcs:
    """The emulator's endpoint, and a client of it (google-cloud-storage, no credentials)."""

    def __init__(self, endpoint: str):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        self.endpoint = endpoint
        self.client = storage.Client(
            project="launchbay-test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client.bucket(bucket).blob(key).upload_from_string(body)


@pytest.fixture
def gcs():
    from gcp_storage_emulator.server import create_server

    server = create_server("127.0.0.1", 0, in_memory=True, default_bucket=STAGING_BUCKET)
    server.start()  # returns once it listens
    # Port 0: the system picks a free one, which only the HTTP server knows.
    port = server._api._httpd.server_address[1]
    yield Gcs(f"http://127.0.0.1:{port}")
    server.stop()


def vertex_queue(store, vertex, name="vx", target=None, resource_args=None, **extra):
    config = {
        **extra,
        "resource_args": resource_args or VERTEX_ARGS,
        "target": target
        or {
            "project": "launchbay-test",
            "location": "us-central1",
            "api_endpoint": vertex.api_endpoint,
            "logging_endpoint": vertex.api_endpoint,
            "credentials": "anonymous",
            "poll_seconds": 0.1,
        },
    }
    return store.queues.create(name, "vertex", check_queue_config("vertex", config))
