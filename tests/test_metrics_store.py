"""store.metrics: points in step order, summaries kept on ingest, NaN and infinities kept,
cursor and counts written with the points in one transaction, a cap on keys per run."""

import math

import pytest
from kit import make_code_job, make_queue

from store.metrics import MAX_KEYS_PER_RUN, Point


def a_run(store, tmp_path, run_id: str = "run-a") -> str:
    """A claimed run in the store, as the agent makes one."""
    from kit import launch

    queue = make_queue(store, f"q-{run_id}")
    make_code_job(store, tmp_path, f"job-{run_id}", "print('hi')\n")
    launch(store, f"job-{run_id}", queue=queue.name)
    item = store.items.lease_next(queue, "a1")
    assert store.items.claim_with_run(item, "a1", run_id, "local-process", {"run_config": {}})
    return run_id


def test_points_come_back_in_step_order_with_their_summary(store, tmp_path):
    run = a_run(store, tmp_path)
    stored = store.metrics.append(
        run,
        [Point("loss", 0.5, 2, 100.0), Point("loss", 0.9, 1, 99.0), Point("acc", 0.1)],
    )
    assert stored == 3
    store.metrics.append(run, [Point("loss", 0.2), Point("acc", 0.3)])  # no step: last + 1
    assert store.metrics.keys(run) == ["acc", "loss"]
    assert [(p.step, p.value) for p in store.metrics.points(run, "loss")] == [
        (1, 0.9),
        (2, 0.5),
        (2, 0.2),  # the step after the last one given (1): step 2 again, kept after it
    ]
    assert [(p.step, p.value) for p in store.metrics.points(run, "acc")] == [(0, 0.1), (1, 0.3)]
    loss = store.metrics.summaries([run])[run]["loss"]
    assert (loss.count, loss.last, loss.min, loss.max) == (3, 0.2, 0.2, 0.9)
    assert store.metrics.summaries([run], ["acc"]) == {
        run: {"acc": store.metrics.summaries([run])[run]["acc"]}
    }


def test_nan_and_infinities_round_trip_and_nan_is_left_out_of_min_and_max(store, tmp_path):
    run = a_run(store, tmp_path)
    store.metrics.append(
        run,
        [
            Point("x", math.nan, 0),
            Point("x", math.inf, 1),
            Point("x", -math.inf, 2),
            Point("x", 1.5, 3),
            Point("x", math.nan, 4),
        ],
    )
    values = [p.value for p in store.metrics.points(run, "x")]
    assert math.isnan(values[0]) and math.isnan(values[4])
    assert values[1:4] == [math.inf, -math.inf, 1.5]
    summary = store.metrics.summaries([run])[run]["x"]
    assert summary.min == -math.inf and summary.max == math.inf
    assert math.isnan(summary.last) and summary.count == 5
    assert summary.to_json()["last"] == "NaN" and summary.to_json()["max"] == "Infinity"


def test_points_cursor_and_malformed_count_are_stored_together_or_not_at_all(store, tmp_path):
    run = a_run(store, tmp_path)
    store.metrics.append(run, [Point("a", 1.0)], source="file", cursor="10", malformed=2)
    assert store.metrics.cursor(run, "file") == "10"
    assert store.metrics.malformed(run) == 2
    with pytest.raises(TypeError):  # no number, met after key b was made: all rolled back
        store.metrics.append(
            run, [Point("b", 2.0), Point("a", object())], source="file", cursor="20", malformed=5
        )
    assert store.metrics.cursor(run, "file") == "10"
    assert store.metrics.malformed(run) == 2
    assert store.metrics.keys(run) == ["a"]
    assert [p.value for p in store.metrics.points(run, "a")] == [1.0]
    assert store.metrics.cursor(run, "other") is None


def test_keys_past_the_cap_are_dropped_and_counted_on_the_run(store, tmp_path):
    run = a_run(store, tmp_path)
    points = [Point(f"k{i}", float(i)) for i in range(MAX_KEYS_PER_RUN + 250)]
    assert store.metrics.append(run, points) == MAX_KEYS_PER_RUN
    assert store.metrics.append(run, [Point("k0", 1.0), Point("new", 1.0)]) == 1
    assert len(store.metrics.keys(run)) == MAX_KEYS_PER_RUN
    assert store.metrics.dropped(run) == 251
    other = a_run(store, tmp_path, "run-b")  # the cap is per run
    assert store.metrics.append(other, [Point("new", 1.0)]) == 1


def test_a_long_series_reduces_to_the_charts_width_in_sql(store, tmp_path):
    run = a_run(store, tmp_path)
    store.metrics.append(run, [Point("loss", float(i % 7), i) for i in range(10_000)])
    buckets = store.metrics.buckets(run, "loss", 80)
    assert 0 < len(buckets) <= 80
    assert sum(b.count for b in buckets) == 10_000
    assert buckets[0].step == 0 and buckets[0].min == 0.0 and buckets[0].max == 6.0
    window = store.metrics.points(run, "loss", first_step=100, last_step=104)
    assert [p.step for p in window] == [100, 101, 102, 103, 104]


def test_summaries_of_many_runs_read_only_the_runs_asked(store, tmp_path):
    runs = [a_run(store, tmp_path, f"run-{i}") for i in range(3)]
    for i, run in enumerate(runs):
        store.metrics.append(run, [Point("loss", float(i))])
    found = store.metrics.summaries(runs[:2], ["loss"])
    assert sorted(found) == runs[:2]
    assert found[runs[1]]["loss"].last == 1.0


def test_the_ingest_benchmark_prints_its_rate_against_bare_sqlite():
    from kit import bench_results

    lines = bench_results("metrics.py")
    append = lines["metrics.ingest_append"]
    assert append["value"] > 0 and append["baseline_bare_sqlite"] > 0
    assert append["ratio"] == pytest.approx(append["value"] / append["baseline_bare_sqlite"], 0.01)
    assert lines["metrics.ingest_jsonl_file"]["value"] > 0


def test_a_million_point_chart_reads_the_blocks_kept_on_ingest_and_they_are_exact(store, tmp_path):
    import random

    run = a_run(store, tmp_path)
    rng = random.Random(3)
    values = [math.nan if i % 997 == 0 else rng.uniform(-1, 1) for i in range(100_000)]
    for start in range(0, len(values), 5000):  # in slices, as the agent appends
        chunk = range(start, start + 5000)
        store.metrics.append(run, [Point("loss", values[i], i) for i in chunk])
    buckets = store.metrics.buckets(run, "loss", 100)  # 1,000 steps a column: from the blocks
    assert len(buckets) <= 100 and sum(b.count for b in buckets) == 100_000
    edges = [b.step for b in buckets] + [100_000]
    for bucket, end in zip(buckets, edges[1:], strict=True):
        inside = [v for v in values[bucket.step : end] if not math.isnan(v)]
        assert (bucket.min, bucket.max, bucket.count) == (
            min(inside),
            max(inside),
            end - bucket.step,
        )


def test_runs_sorted_by_a_summary_column_walk_an_index_not_a_sort(store):
    for column in ("last", "min", "max"):
        plan = " ".join(
            row[3]
            for row in store.conn.execute(
                "EXPLAIN QUERY PLAN SELECT run_id FROM metric_keys WHERE key = ?"
                f" ORDER BY {column} DESC LIMIT 50",
                ("val/loss",),
            )
        )
        assert f"metric_keys_by_{column}" in plan and "TEMP B-TREE" not in plan, plan


def test_a_step_past_sqlites_integers_is_held_at_the_largest(store, tmp_path):
    run = a_run(store, tmp_path)
    largest = (1 << 63) - 1
    store.metrics.append(run, [Point("a", 1.0, largest), Point("a", 2.0), Point("a", 3.0, 1 << 70)])
    assert [p.step for p in store.metrics.points(run, "a")] == [largest] * 3
