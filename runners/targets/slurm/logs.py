"""Following a slurm job's output file (on the cluster's shared filesystem, read here or over
ssh) into the run's log, each line once across agent restarts.

The output file only grows, so it is read on from the cursor: the byte offset of the output
already copied, kept by runners.runlog.cursor.OffsetCopier in a file beside the log (with the
log's size, so that a line an agent killed between its two writes copied is not copied again).
Until the job ends only whole lines are copied; a last line without a newline, at its end.
"""

from pathlib import Path

from runners.runlog.cursor import OffsetCopier
from runners.runlog.logfile import note_in_log
from runners.targets.remote import FollowerThread

CHUNK = 4 << 20  # read at most this much a time (a job printing fast, over ssh)


class OutputFollower(FollowerThread):
    """Copies the job's output file into the run's log every `every` seconds, and once more
    after the job's end."""

    def __init__(self, cluster, output: str, log_path: Path, cursor_path: Path, every: float):
        super().__init__(f"launchbay-slurm-{Path(output).parent.name[-8:]}")
        self._cluster = cluster
        self._output = output
        self._log_path = log_path
        self._cursor_path = cursor_path
        self._every = every

    def follow(self) -> None:
        copier = OffsetCopier(self._log_path, self._cursor_path)
        try:
            while True:
                ended = self.job_ended.is_set()
                try:
                    self.copy(copier, final=ended)
                except Exception as exc:  # the login node away for now: try again later
                    if ended:
                        note_in_log(self._log_path, f"could not read the job's last output: {exc}")
                if ended:
                    return
                self.job_ended.wait(self._every)
        finally:
            copier.close()

    def copy(self, copier: OffsetCopier, final: bool) -> None:
        """What the file gained since the cursor; a partial last line is read again next time
        (a restart drops it), until the job's end copies it."""
        while True:
            before = copier.copied
            copier.restart(at=before)
            data = self._cluster.read_from(self._output, before, CHUNK)
            copier.feed(data)
            if len(data) < CHUNK:
                break
            if copier.copied == before:
                copier.flush()  # one line longer than CHUNK: copied in pieces
        if final:
            copier.flush()
