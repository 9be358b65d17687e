"""Runs side by side: the config keys whose values differ (W&B's run comparer), for
`launchbay runs compare` and the app's comparison."""

from __future__ import annotations


def config_diff(configs: dict[str, dict]) -> dict[str, dict]:
    """{dotted config key: {run id: value}} for the keys whose values are not the same in every
    run (a key some run lacks differs); nested mappings are compared key by key."""
    flat = {run_id: flatten(config) for run_id, config in configs.items()}
    keys = sorted({key for values in flat.values() for key in values})
    differing = {}
    for key in keys:
        values = {run_id: values[key] for run_id, values in flat.items() if key in values}
        seen = list(values.values())
        if len(values) < len(flat) or any(v != seen[0] for v in seen):
            differing[key] = values
    return differing


def flatten(config, prefix: str = "") -> dict:
    """A nested config as {"a.b": value}; an empty mapping is no key."""
    if not isinstance(config, dict) or not config:
        return {prefix.rstrip("."): config} if prefix else {}
    flat = {}
    for key, value in config.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat
