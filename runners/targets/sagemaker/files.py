"""A training job's output in S3 (`S3OutputPath/<job name>/`: SageMaker's output/model.tar.gz
and output/output.tar.gz, and whatever the job wrote there), read with boto3."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from runners.protocol import RunnerError
from runners.remotefiles import ObjectStore, RemoteFilesError, StoredObject
from runners.targets.sagemaker import sdk


class S3Files(ObjectStore):
    """Everything under `uri` in S3; `s3` makes the client on first use (boto3 loads then)."""

    page_size = 1000  # keys a ListObjectsV2 page holds (S3's most)

    def __init__(self, uri: str, s3: Callable[[], object]):
        super().__init__(uri)
        self._s3 = s3

    def objects(self, under: str) -> Iterator[StoredObject]:
        pages = self._call(lambda s3: s3.get_paginator("list_objects_v2")).paginate(
            Bucket=self.bucket,
            Prefix=self.prefix + under,
            PaginationConfig={"PageSize": self.page_size},
        )
        with self._failures("list"):
            for page in pages:
                for item in page.get("Contents") or []:
                    yield StoredObject(item["Key"][len(self.prefix) :], item["Size"])

    def read_head(self, key: str, max_bytes: int) -> tuple[int, bytes]:
        with self._failures("read"):
            s3 = self._s3()
            try:
                answer = s3.get_object(
                    Bucket=self.bucket, Key=self.prefix + key, Range=f"bytes=0-{max_bytes - 1}"
                )
            except sdk.errors.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return 0, b""  # an empty object: no first byte to range over
                raise
            # `bytes 0-N/SIZE`; a server that sends the whole object says no range.
            total = str(answer.get("ContentRange") or "").rpartition("/")[2]
            return int(total or answer["ContentLength"]), answer["Body"].read(max_bytes)

    def download(self, key: str, dest: Path) -> None:
        self._call(lambda s3: s3.download_file(self.bucket, self.prefix + key, str(dest)), "read")

    def _call(self, do, verb: str = "list"):
        with self._failures(verb):
            return do(self._s3())

    @contextmanager
    def _failures(self, verb: str):
        """botocore's errors (and a client that can't be made) as one RemoteFilesError line."""
        what = f"could not {verb} {self.uri}"
        try:
            yield
        except sdk.errors.ClientError as exc:
            error = exc.response.get("Error", {})
            raise RemoteFilesError(f"{what}: {error.get('Code')}: {error.get('Message')}") from None
        except (sdk.errors.BotoCoreError, RunnerError) as exc:
            raise RemoteFilesError(f"{what}: {exc}") from None
