"""A CustomJob's output in Cloud Storage (its base_output_directory: the queue's base_output_dir,
or `launchbay/RUN` in the staging bucket), read with google-cloud-storage (a dependency of
google-cloud-aiplatform)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from runners.remotefiles import ObjectStore, RemoteFilesError, StoredObject
from runners.targets.vertex import sdk


class GcsFiles(ObjectStore):
    """Everything under `uri` in GCS; `connect` makes the client on first use."""

    page_size = 1000  # objects a list page holds (the API's most)

    def __init__(self, uri: str, connect: Callable[[], object]):
        super().__init__(uri)
        self._connect = connect

    def objects(self, under: str) -> Iterator[StoredObject]:
        with self._failures("list"):
            blobs = self._connect().list_blobs(
                self.bucket, prefix=self.prefix + under, page_size=self.page_size
            )
            for blob in blobs:  # the iterator asks for the next page as it goes
                yield StoredObject(blob.name[len(self.prefix) :], blob.size or 0)

    def read_head(self, key: str, max_bytes: int) -> tuple[int, bytes]:
        with self._failures("read"):
            blob = self._connect().bucket(self.bucket).get_blob(self.prefix + key)
            if blob is None:
                raise RemoteFilesError(f"could not read {self.uri}{key}: it is gone")
            if not blob.size:
                return 0, b""
            return blob.size, blob.download_as_bytes(start=0, end=min(blob.size, max_bytes) - 1)

    def download(self, key: str, dest: Path) -> None:
        with self._failures("read"):
            self._connect().bucket(self.bucket).blob(self.prefix + key).download_to_filename(
                str(dest)
            )

    @contextmanager
    def _failures(self, verb: str):
        """The API's and google-auth's errors as one RemoteFilesError line."""
        what = f"could not {verb} {self.uri}"
        try:
            yield
        except sdk.api_exceptions.GoogleAPIError as exc:
            raise RemoteFilesError(f"{what}: {sdk.describe(exc)}") from None
        except sdk.auth_exceptions.GoogleAuthError as exc:
            raise RemoteFilesError(
                f"{what}: no Google credentials ({exc}); run `gcloud auth application-default"
                " login` or set GOOGLE_APPLICATION_CREDENTIALS"
            ) from None
