"""The agent ingests what real jobs report (LAUNCHBAY_METRICS_FILE and the log's protocol
lines) into the store, once each across a SIGKILLed agent, and survives hostile lines; the CLI
shows them."""

import json
import math
import signal
import subprocess

import pytest
from kit import agent_process, launch, make_code_job, make_queue, run_agent, wait_for

from store import RunState
from store.metrics import MAX_KEYS_PER_RUN

pytestmark = pytest.mark.slow

WRITER = """
import json, os, time
n = int(os.environ.get("POINTS", "50"))
nap = float(os.environ.get("NAP", "0"))
with open(os.environ["LAUNCHBAY_METRICS_FILE"], "a") as f:
    for i in range(n):
        f.write(json.dumps({"loss": 1 / (i + 1), "acc": i / n, "step": i}) + "\\n")
        f.flush()
        print("LAUNCHBAY_METRICS " + json.dumps({"log/step_seen": i, "step": i}), flush=True)
        print("plain output", i, flush=True)
        if nap:
            time.sleep(nap)
"""


def _finished_run(store, item_id):
    run = store.runs.find_for_item(item_id)
    assert run is not None and run.state is RunState.FINISHED, run
    return run


def _writer_queue(store, tmp_path, points: int, nap: float = 0.0):
    make_queue(store, config={"resource_args": {"env": {"POINTS": str(points), "NAP": str(nap)}}})
    make_code_job(store, tmp_path, "writer", WRITER)
    return launch(store, "writer")


def test_a_job_writing_the_protocol_has_its_points_in_the_store_and_the_cli(
    store, db_path, cli, tmp_path
):
    item_id = _writer_queue(store, tmp_path, 50)
    run_agent(db_path)
    run = _finished_run(store, item_id)
    job_keys = [key for key in store.metrics.keys(run.id) if not key.startswith("sys/")]
    assert job_keys == ["acc", "log/step_seen", "loss"]
    assert [p.step for p in store.metrics.points(run.id, "loss")] == list(range(50))
    assert [p.value for p in store.metrics.points(run.id, "log/step_seen")] == [
        float(i) for i in range(50)
    ]
    assert store.metrics.malformed(run.id) == 0

    shown = cli("runs", "metrics", run.id, "--key", "loss", "--json")
    assert shown.code == 0, shown.err
    body = json.loads(shown.out)
    assert list(body["metrics"]) == ["loss"]
    loss = body["metrics"]["loss"]
    assert (loss["count"], loss["last"], loss["max"]) == (50, 1 / 50, 1.0)
    assert [p["step"] for p in loss["points"]] == list(range(50))

    table = cli("runs", "metrics", run.id)
    assert table.code == 0 and "log/step_seen" in table.out and "0.02" in table.out
    rows = cli("runs", "metrics", run.id, "--csv", "-k", "acc").out.splitlines()
    assert rows[0] == "key,step,time,value" and len(rows) == 51
    assert rows[1].startswith("acc,0,") and rows[1].endswith(",0.0")

    listed = json.loads(cli("runs", "list", "--json").out)
    assert listed[0]["metrics"]["loss"]["min"] == 1 / 50
    assert listed[0]["metrics"]["loss"]["last_step"] == 49


def test_runs_compare_shows_the_config_that_differs_and_the_metrics_side_by_side(
    store, db_path, cli, tmp_path
):
    make_queue(store)
    make_code_job(store, tmp_path, "writer", WRITER)
    first = launch(
        store,
        "writer",
        spec={"overrides": {"run_config": {"lr": 0.1, "model": {"depth": 2, "w": 8}}}},
    )
    second = launch(
        store, "writer", spec={"overrides": {"run_config": {"lr": 0.01, "model": {"depth": 2}}}}
    )
    run_agent(db_path)
    a, b = _finished_run(store, first).id, _finished_run(store, second).id

    compared = cli("runs", "compare", a, b, "--json")
    assert compared.code == 0, compared.err
    body = json.loads(compared.out)
    assert body["config"] == {"lr": {a: 0.1, b: 0.01}, "model.w": {a: 8}}
    assert body["metrics"]["loss"][a]["last"] == 1 / 50 == body["metrics"]["loss"][b]["last"]
    text = cli("runs", "compare", a, b)
    assert text.code == 0 and "model.w" in text.out and "loss" in text.out


def test_bad_metrics_and_compare_requests_are_one_line_and_exit_2(store, db_path, cli, tmp_path):
    item_id = _writer_queue(store, tmp_path, 3)
    run_agent(db_path)
    run = _finished_run(store, item_id)
    for args, fragment in [
        (["runs", "metrics", run.id, "--key", "nope"], "--key"),
        (["runs", "metrics", run.id, "--json", "--csv"], "--json/--csv"),
        (["runs", "metrics", "zzzzzzzz"], "zzzzzzzz"),
        (["runs", "compare", run.id], "two or more"),
        (["runs", "compare", run.id, run.id], "two or more"),
    ]:
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert result.err.count("\n") == 1 and fragment in result.err, result.err


def test_a_sigkilled_agent_and_its_successor_store_every_point_exactly_once(
    store, db_path, tmp_path
):
    item_id = _writer_queue(store, tmp_path, 600, nap=0.01)
    first = agent_process(db_path, None, "--quiet", stdout=subprocess.DEVNULL)
    run = wait_for(lambda: store.runs.find_for_item(item_id), what="the run")

    def stored() -> int:
        found = store.metrics.summaries([run.id], ["loss"]).get(run.id, {})
        return found["loss"].count if "loss" in found else 0

    wait_for(lambda: stored() >= 50, what="points ingested by the first agent")
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert stored() < 600  # killed mid-stream
    second = agent_process(db_path, None, "--quiet", "--until-empty", stdout=subprocess.DEVNULL)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    _finished_run(store, item_id)
    for key in ("loss", "acc", "log/step_seen"):
        steps = [p.step for p in store.metrics.points(run.id, key)]
        assert steps == list(range(600)), key


def test_the_points_of_a_run_that_ended_while_no_agent_watched_are_read_by_the_next(
    store, db_path, tmp_path
):
    item_id = _writer_queue(store, tmp_path, 200, nap=0.005)
    first = agent_process(db_path, None, "--quiet", stdout=subprocess.DEVNULL)
    run = wait_for(
        lambda: (r := store.runs.find_for_item(item_id)) and r.handle and r, what="a started run"
    )
    first.send_signal(signal.SIGKILL)
    first.wait()
    exit_file = store.run_dir(run.id) / "exit_code"
    wait_for(exit_file.exists, what="the job to end while no agent watches")
    second = agent_process(db_path, None, "--quiet", "--until-empty", stdout=subprocess.DEVNULL)
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    _finished_run(store, item_id)
    assert [p.step for p in store.metrics.points(run.id, "loss")] == list(range(200))


def test_the_readme_example_reports_its_curve(store, db_path, tmp_path):
    from kit import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Metrics") :]
    example = section[section.index("```python\n") + 10 : section.index("```\n\n")]
    make_queue(store)
    make_code_job(store, tmp_path, "readme", example)
    item_id = launch(store, "readme")
    run_agent(db_path)
    run = _finished_run(store, item_id)
    summary = store.metrics.summaries([run.id])[run.id]["loss"]
    assert (summary.count, summary.last_step, summary.min) == (100, 99, 1 / 100)


HOSTILE = """
import json, os
with open(os.environ["LAUNCHBAY_METRICS_FILE"], "a") as f:
    f.write('{"loss": 1, "step": 0}\\n')
    f.write('{"blob": "' + "x" * (10 << 20) + '"}\\n')          # a 10 MB line
    f.write("[" * 200_000 + "\\n")                                # deep nesting
    f.write('{"a": ' * 100 + "1" + "}" * 100 + "\\n")               # deep, valid JSON
    f.write('{"loss": NaN, "inf": Infinity, "ok": true, "s": "x", "step": 1}\\n')
    f.write(json.dumps({f"k{i}": i for i in range(100_000)}) + "\\n")  # 100,000 keys
print("LAUNCHBAY_METRICS {not json", flush=True)
print("LAUNCHBAY_METRICS " + json.dumps({"loss": 0.5, "step": 2}), flush=True)
"""


def test_hostile_lines_are_counted_and_skipped_and_the_keys_capped(store, db_path, cli, tmp_path):
    make_queue(store)
    make_code_job(store, tmp_path, "hostile", HOSTILE)
    item_id = launch(store, "hostile")
    make_code_job(store, tmp_path, "after", WRITER)
    later = launch(store, "after")  # the agent goes on serving
    run_agent(db_path)
    run = _finished_run(store, item_id)
    _finished_run(store, later)
    values = [p.value for p in store.metrics.points(run.id, "loss")]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == 0.5
    assert store.metrics.points(run.id, "inf")[0].value == math.inf
    assert store.metrics.malformed(run.id) == 4  # 10 MB, [[[…, the deep object, {not json
    assert len(store.metrics.keys(run.id)) == MAX_KEYS_PER_RUN
    assert store.metrics.dropped(run.id) > 100_000 - MAX_KEYS_PER_RUN
    described = cli("runs", "describe", run.id, "--json")
    assert json.loads(described.out)["metrics_malformed"] == 4
    shown = cli("runs", "metrics", run.id, "-k", "loss")
    assert shown.code == 0 and "malformed" in shown.err and "dropped" in shown.err


SLOW_WORKER = """
import time
data = b"x" * (64 * 1024 * 1024)  # held while the run goes
end = time.time() + 3
while time.time() < end:
    sum(range(10000))
"""


def test_a_local_run_gets_its_cpu_and_memory_as_sys_metrics(store, db_path, tmp_path, monkeypatch):
    import runners.metrics.sampled

    monkeypatch.setattr(runners.metrics.sampled, "SAMPLE_SECONDS", 0.5)
    make_code_job(store, tmp_path, "busy", SLOW_WORKER)
    make_queue(store)
    item = launch(store, "busy")
    run_agent(db_path)
    run = store.runs.find_for_item(item)
    assert run.state is RunState.FINISHED
    memory = store.metrics.points(run.id, "sys/memory_rss_mib")
    assert len(memory) >= 2 and max(p.value for p in memory) >= 64
    assert any(p.value > 0 for p in store.metrics.points(run.id, "sys/cpu_percent"))


TENSORBOARD_WRITER = """
from tensorboardX import SummaryWriter
writer = SummaryWriter()  # its default folder, runs/<date>_<host>/, under the working folder
for step in range(20):
    writer.add_scalar("train/loss", 1.0 / (step + 1), step)
writer.close()
"""


def test_a_local_job_writing_tensorboard_events_unchanged_has_its_scalars_stored(
    store, db_path, tmp_path
):
    make_code_job(store, tmp_path, "tb", TENSORBOARD_WRITER)
    make_queue(store)
    item = launch(store, "tb")
    run_agent(db_path)
    run = store.runs.find_for_item(item)
    assert run.state is RunState.FINISHED, run.message
    points = store.metrics.points(run.id, "train/loss")
    assert [p.step for p in points] == list(range(20))
    assert points[-1].value == pytest.approx(1 / 20)
