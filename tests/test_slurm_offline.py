"""The parts of the slurm target that need no cluster. A job's record (squeue --json) as a run
state: the states a single-node test cluster can't produce on demand (TIMEOUT needs a minute,
OUT_OF_MEMORY a cgroup, NODE_FAIL a second node, a requeue an administrator), stated from
records shaped as the real cluster answers (tests/runners/test_slurm.py runs the others for
real); the output cursor's crash window; where a run's folder is."""

from pathlib import Path

import pytest

from runners.runlog.cursor import OffsetCopier
from runners.targets.slurm.logs import CHUNK, OutputFollower
from runners.targets.slurm.sdk import Cluster
from runners.targets.slurm.status import exit_code_of, job_status, recorded_exit
from store import RunState


def record(state: str, reason: str = "None", exit_code: int = 0, restarts: int = 0) -> dict:
    return {
        "job_id": 42,
        "job_state": state,
        "state_reason": reason,
        "exit_code": exit_code,
        "restart_cnt": restarts,
    }


def test_a_pending_job_waits_with_slurms_reason():
    for reason in ("Priority", "Resources", "QOSMaxGRESPerUser"):
        status = job_status(record("PENDING", reason))
        assert status.state is RunState.STARTING
        assert status.message == f"waiting in Slurm's queue: {reason}"


def test_running_and_completing_jobs_run():
    assert job_status(record("RUNNING")).state is RunState.RUNNING
    assert job_status(record("COMPLETING")).state is RunState.RUNNING


def test_a_completed_job_finished_with_code_0():
    status = job_status(record("COMPLETED"))
    assert (status.state, status.exit_code) == (RunState.FINISHED, 0)


@pytest.mark.parametrize(
    ("state", "reason", "wait_status", "says", "code"),
    [
        ("FAILED", "NonZeroExitCode", 3 << 8, "Slurm job 42 failed: exited with code 3", 3),
        (
            "TIMEOUT",
            "TimeLimit",
            15,
            "Slurm job 42 reached its time limit: killed by SIGTERM (exit code 143), reason"
            " TimeLimit",
            143,
        ),
        (
            "OUT_OF_MEMORY",
            "OutOfMemory",
            9,
            "Slurm job 42 ran out of memory: killed by SIGKILL (exit code 137), reason OutOfMemory",
            137,
        ),
        (
            "NODE_FAIL",
            "NodeDown",
            0,
            "Slurm job 42 lost its node (NODE_FAIL): no exit code, reason NodeDown",
            None,
        ),
    ],
)
def test_failures_fail_the_run_at_stage_run_with_reason_and_exit_code(
    state, reason, wait_status, says, code
):
    status = job_status(record(state, reason, wait_status))
    assert status.state is RunState.FAILED
    assert status.error_stage == "run"
    assert status.error_message == says
    assert status.exit_code == code


def test_a_job_cancelled_by_someone_else_fails_saying_so():
    status = job_status(record("CANCELLED", exit_code=15))
    assert status.state is RunState.FAILED
    assert "cancelled outside launchbay" in status.error_message


def test_preempted_or_requeued_by_slurm_is_preempted():
    assert job_status(record("PREEMPTED", exit_code=9)).state is RunState.PREEMPTED
    requeued = job_status(record("PENDING", "BeginTime", restarts=1))
    assert requeued.state is RunState.PREEMPTED
    assert "requeued" in requeued.message
    assert job_status(record("REQUEUED")).state is RunState.PREEMPTED


def test_the_wait_status_is_read_as_a_shells_exit_code():
    assert exit_code_of(3 << 8) == 3
    assert exit_code_of(9) == 137
    assert exit_code_of(0) == 0


def test_the_records_of_slurm_23_and_later_are_read_too():
    newer = {
        "job_id": 42,
        "job_state": ["FAILED"],
        "state_reason": "NonZeroExitCode",
        "exit_code": {
            "status": ["ERROR"],
            "return_code": {"set": True, "infinite": False, "number": 3},
            "signal": {"signal_id": {"set": False, "infinite": False, "number": 0}, "name": ""},
        },
        "restart_cnt": 0,
    }
    status = job_status(newer)
    assert (status.state, status.exit_code) == (RunState.FAILED, 3)
    killed = {**newer, "job_state": ["TIMEOUT"]}
    killed["exit_code"] = {
        **newer["exit_code"],
        "signal": {"signal_id": {"set": True, "number": 15}},
    }
    assert job_status(killed).exit_code == 143
    assert job_status({**newer, "job_state": ["PENDING"]}).state is RunState.STARTING


def test_a_job_slurm_forgot_ends_as_its_script_recorded():
    assert recorded_exit(0, "42").state is RunState.FINISHED
    failed = recorded_exit(3, "42")
    assert (failed.state, failed.exit_code) == (RunState.FAILED, 3)


class OutputOnDisk:
    """The cluster's side of a follower: the job's output file, read here."""

    def read_from(self, path, offset, most):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(most)


def follow_once(tmp_path):
    """A follower of a job that has ended: it copies what is left, then returns."""
    follower = OutputFollower(
        OutputOnDisk(), str(tmp_path / "output.log"), tmp_path / "run.log",
        tmp_path / "cursor", every=0.01,
    )  # fmt: skip
    follower.finish()
    assert follower.start().done.wait(10)


def test_an_agent_killed_between_copying_and_recording_copies_no_line_twice(tmp_path):
    output, log = tmp_path / "output.log", tmp_path / "run.log"
    output.write_bytes(b"one\ntwo\n")
    follow_once(tmp_path)
    assert log.read_bytes() == b"one\ntwo\n"
    # The next copy reached the log, but the agent died before the cursor recorded it; an
    # agent note came after.
    with open(output, "ab") as f:
        f.write(b"three\nfour\n")
    with open(log, "ab") as f:
        f.write(b"three\n[launchbay] agent restarted\n")
    follow_once(tmp_path)
    assert log.read_bytes() == b"one\ntwo\nthree\n[launchbay] agent restarted\nfour\n"
    copier = OffsetCopier(log, tmp_path / "cursor")
    assert copier.copied == len(b"one\ntwo\nthree\nfour\n")
    copier.close()


def copy_once(tmp_path, final: bool) -> None:
    """One read of the output file by a follower, in this thread."""
    follower = OutputFollower(
        OutputOnDisk(), str(tmp_path / "output.log"), tmp_path / "run.log",
        tmp_path / "cursor", every=0.01,
    )  # fmt: skip
    copier = OffsetCopier(tmp_path / "run.log", tmp_path / "cursor")
    try:
        follower.copy(copier, final=final)
    finally:
        copier.close()


def test_a_partial_last_line_waits_for_its_end_or_the_jobs(tmp_path):
    output, log = tmp_path / "output.log", tmp_path / "run.log"
    output.write_bytes(b"one\ntw")
    copy_once(tmp_path, final=False)
    assert log.read_bytes() == b"one\n"
    with open(output, "ab") as f:
        f.write(b"o\nthr")
    copy_once(tmp_path, final=False)
    assert log.read_bytes() == b"one\ntwo\n"
    copy_once(tmp_path, final=True)  # the job ended: its last line, with a newline in the log
    assert log.read_bytes() == b"one\ntwo\nthr\n"


def test_output_longer_than_a_read_is_copied_whole_and_a_huge_line_in_pieces(tmp_path):
    output, log = tmp_path / "output.log", tmp_path / "run.log"
    lines = b"".join(b"%07d\n" % n for n in range(CHUNK // 8 + 1000))  # over one read
    huge = b"x" * (CHUNK + 10) + b"\n"
    output.write_bytes(lines + huge + b"end\n")
    copy_once(tmp_path, final=False)
    copied = log.read_bytes()
    assert copied.startswith(lines) and copied.endswith(b"x\nend\n")
    assert copied.replace(b"\n", b"") == (lines + huge + b"end\n").replace(b"\n", b"")


def test_a_runs_folder_is_under_the_work_dir_or_the_home_directory_there(tmp_path):
    home = str(Path.home())
    for work_dir, folder in (
        ("/scratch/me/runs", "/scratch/me/runs/r1"),
        ("runs", f"{home}/runs/r1"),
        ("~/runs", f"{home}/runs/r1"),
        ("~", f"{home}/r1"),
    ):
        assert Cluster({"work_dir": work_dir}).run_dir("r1") == folder


def test_an_ended_job_carries_its_end_time_in_either_form_and_a_live_one_none():
    assert job_status({**record("COMPLETED"), "end_time": 1_700_000_000}).ended_at == 1.7e9
    newer = {"set": True, "infinite": False, "number": 1_700_000_000}
    assert job_status({**record("FAILED", exit_code=768), "end_time": newer}).ended_at == 1.7e9
    # A running job's end_time is when its time limit runs out: not an end.
    assert job_status({**record("RUNNING"), "end_time": 1_700_000_000}).ended_at is None
