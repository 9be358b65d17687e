"""`launchbay quickstart` does what the README says: on an empty store it creates the sample
job and queue, runs the sample to the end and prints its log (issue 11.33)."""

from kit import run_launchbay

from store import RunState, Store


def test_quickstart_on_an_empty_store_runs_the_sample_to_finished(tmp_path):
    db = tmp_path / "fresh.db"
    result = run_launchbay("quickstart", "--epochs", "2", db=db)
    assert result.code == 0, result.err
    # The log, on stdout: the run's own lines, in order.
    lines = result.out.splitlines()
    assert lines[-1] == "done"
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert '"epochs": 2' in result.out
    store = Store.open(db)
    try:
        (run,) = [store.runs.get(row[0]) for row in store.conn.execute("SELECT id FROM runs")]
        assert run.state is RunState.FINISHED and run.exit_code == 0
        assert run.job.startswith("sample-train")
        assert store.queues.get("local").resource == "local-process"
    finally:
        store.close()
    assert f"run {run.id}: finished" in result.err
