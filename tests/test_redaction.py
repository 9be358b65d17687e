"""What `redact` hides for display: secret values, and their copies inside other strings —
also when a run config cut into LAUNCHBAY_CONFIG_0..N chunks cuts a secret in two."""

import json

from runners.launch.rendering import REDACTED, config_env, redact

SECRET = "tok-" + "a1b2c3d4" * 4


def _chunked_spec(limit: int) -> tuple[dict, dict[str, str]]:
    # {"a": "x…x", "db_password": "<secret>"}: the secret starts 10 characters before the
    # first chunk's end, so the first two chunks each hold a part of it.
    run_config = {"a": "x" * (limit - 36), "db_password": SECRET}
    chunks = config_env(json.dumps(run_config, sort_keys=True), limit)
    assert chunks["LAUNCHBAY_CONFIG_0"].endswith(SECRET[:10])
    return run_config, chunks


def test_a_secret_in_a_chunked_env_mapping_is_hidden_in_every_chunk_it_spans():
    run_config, chunks = _chunked_spec(64)
    shown = redact({"run_config": run_config, "env": chunks})
    assert shown["run_config"]["db_password"] == REDACTED
    text = json.dumps(shown)
    assert SECRET[:8] not in text and SECRET[-8:] not in text
    joined = "".join(shown["env"][f"LAUNCHBAY_CONFIG_{i}"] for i in range(len(chunks) - 1))
    assert f'"db_password": "{REDACTED}' in joined
    assert shown["env"]["LAUNCHBAY_CONFIG_CHUNKS"] == chunks["LAUNCHBAY_CONFIG_CHUNKS"]


def test_a_secret_in_chunked_name_value_pairs_is_hidden_too():
    run_config, chunks = _chunked_spec(64)
    pairs = [{"name": name, "value": value} for name, value in chunks.items()]
    shown = redact({"run_config": run_config, "containers": [{"env": pairs}]})
    values = [pair["value"] for pair in shown["containers"][0]["env"]]
    assert not any(SECRET[:8] in v or SECRET[-8:] in v for v in values)
    assert [pair["name"] for pair in shown["containers"][0]["env"]] == list(chunks)


def test_chunks_without_a_secret_are_shown_as_they_are():
    chunks = config_env(json.dumps({"lr": 0.1, "notes": "y" * 200}), 64)
    assert redact({"env": chunks}) == {"env": chunks}


def test_a_secret_with_quotes_and_accents_is_hidden_as_the_config_json_spells_it():
    secret = 'pa"ss\\wörd-1234'
    run_config = {"db_password": secret}
    env = config_env(json.dumps(run_config, sort_keys=True), 10_000)
    shown = redact({"run_config": run_config, "env": env})
    assert shown["env"]["LAUNCHBAY_CONFIG"] == '{"db_password": "***"}'


def test_chunks_are_joined_in_number_order_whatever_order_they_are_listed_in():
    run_config = {"a": "x" * (64 * 10 - 36), "db_password": SECRET}
    chunks = config_env(json.dumps(run_config, sort_keys=True), 64)
    assert chunks["LAUNCHBAY_CONFIG_9"].endswith(SECRET[:10])  # the secret spans _9 and _10
    listed_by_text = dict(sorted(chunks.items()))  # _0, _1, _10, _2, …, _9
    text = json.dumps(redact({"run_config": run_config, "env": listed_by_text}))
    assert SECRET[:8] not in text and SECRET[-8:] not in text
