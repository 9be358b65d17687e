"""Tags and a note on runs: `runs tag`, `runs note`, shown in `describe` and `runs list --json`,
and `tag:x` on the runs table's filter."""

import json

from kit import claimed_run, refusal_checker

from store.run_views import RunFilter, RunWindows
from tui.screens.runs import parse_filter


def test_tags_are_added_removed_and_listed(cli, store, tmp_path):
    run_id = claimed_run(store, tmp_path, "r1")
    result = cli("runs", "tag", run_id, "best", "lr-sweep", "best")
    assert result.code == 0, result.err
    assert result.out.strip() == "r1: tags best lr-sweep"
    assert store.runs.get(run_id).tags == ("best", "lr-sweep")

    assert cli("runs", "tag", run_id, "lr-sweep", "--remove").code == 0
    listed = json.loads(cli("runs", "list", "--json").out)
    assert listed[0]["tags"] == ["best"]
    assert "tags:       best" in cli("runs", "describe", run_id).out


def test_note_is_set_shown_and_removed(cli, store, tmp_path):
    run_id = claimed_run(store, tmp_path, "r1")
    assert cli("runs", "note", run_id, "diverged at step 300\nlr too high").code == 0
    described = json.loads(cli("runs", "describe", run_id, "--json").out)
    assert described["note"] == "diverged at step 300\nlr too high"
    text = cli("runs", "describe", run_id).out
    assert "note:       diverged at step 300\n            lr too high" in text

    assert cli("runs", "note", run_id, "").out.strip() == "r1: note removed"
    assert store.runs.get(run_id).note is None


def test_bad_tags_and_unknown_runs_are_refused_and_change_nothing(cli, store, db_path, tmp_path):
    run_id = claimed_run(store, tmp_path, "r1")
    store.runs.tag(run_id, add=["kept"])
    refused = refusal_checker(cli, db_path)
    # One bad tag among good ones: none is written.
    refused(["runs", "tag", run_id, "good", "two words"], "tag", "no spaces")
    refused(["runs", "tag", run_id, "a,b"], "tag", "commas")
    refused(["runs", "tag", "nosuchrun", "x"], "run", "nosuchrun")
    refused(["runs", "note", "nosuchrun", "x"], "run", "nosuchrun")
    refused(["runs", "note", run_id, "x" * 10_001], "note", "at most 10000")
    assert store.runs.get(run_id).tags == ("kept",)


def test_tag_filter_shows_the_runs_with_every_tag_named(store, tmp_path):
    for run_id, tags in (("r1", ["best", "sweep"]), ("r2", ["sweep"]), ("r3", [])):
        claimed_run(store, tmp_path, run_id)
        if tags:
            store.runs.tag(run_id, add=tags)
    windows = RunWindows(store.conn)

    def shown(text: str) -> list[str]:
        run_filter = parse_filter(text)
        return sorted(r.id for r in windows.at(run_filter, 0, 10))

    assert parse_filter("tag:best state:running") == RunFilter(states=("running",), tags=("best",))
    assert shown("tag:sweep") == ["r1", "r2"]
    assert shown("tag:sweep tag:best") == ["r1"]
    assert shown("tag:best,sweep") == ["r1"]
    assert shown("tag:nothing") == []
    assert windows.count(parse_filter("tag:sweep")) == 2
