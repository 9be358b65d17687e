"""A run is named by its id or by a unique prefix of it, as a user types it: in the CLI (exit
2 with the candidates when a prefix is ambiguous) and in the store."""

import pytest
from kit import claimed_run, run_launchbay

from store import NotFound


@pytest.fixture
def three_runs(store, tmp_path):
    for run_id in ("kj3x9mf2", "kj7a2b4c", "m5ty6uio"):
        claimed_run(store, tmp_path, run_id)


def test_a_unique_prefix_finds_its_run_and_an_ambiguous_one_names_the_candidates(store, three_runs):
    assert store.runs.find("kj3").id == "kj3x9mf2"
    assert store.runs.find("m5ty6uio").id == "m5ty6uio"
    with pytest.raises(NotFound, match="ambiguous: kj3x9mf2, kj7a2b4c"):
        store.runs.find("kj")
    with pytest.raises(NotFound, match="no run with id or id prefix 'zz'"):
        store.runs.find("zz")
    with pytest.raises(NotFound):
        store.runs.find("")


def test_the_cli_takes_a_prefix_wherever_it_takes_a_run(store, db_path, three_runs):
    described = run_launchbay("runs", "describe", "kj3", "--json", db=db_path)
    assert described.code == 0, described.err
    assert '"id": "kj3x9mf2"' in described.out
    ambiguous = run_launchbay("runs", "logs", "kj", db=db_path)
    assert ambiguous.code == 2
    assert ambiguous.err.strip().endswith("type more of it")
    assert len(ambiguous.err.strip().splitlines()) == 1
    cancelled = run_launchbay("runs", "cancel", "m5t", db=db_path)
    assert cancelled.code == 0, cancelled.err
    assert store.runs.get("m5ty6uio").stop_requested_at is not None
