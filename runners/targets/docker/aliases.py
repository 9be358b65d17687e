"""W&B's spellings of docker resource args, as launchbay's keys: one table, one step.

W&B's local-container runner turns each resource arg into a `docker run` flag: a one-letter
key becomes `-k VALUE`, a longer one `--key VALUE`, a list repeats the flag, `true` is the bare
flag. So a W&B queue config holds the docker CLI's flag names (`e`, `env`, `v`, `volume`,
`net`, `shm-size`, `m`, `u`, `w`, `l`, `cap-add`, `device`, …) with the CLI's value syntax
(`env: ["A=1", "B"]`, `gpus: "device=0,1"`, `ulimit: nofile=1024:2048`, `label: [a=b]`).

`canonical()` rewrites such resource args into launchbay's keys and value shapes, before the
queue's and a launch's are merged and before the allow-list and the sandbox checks see them: a
host mount spelt `-v`, a host network spelt `--net` or privileged spelt `--privileged` meets
exactly the check its canonical key meets. Values it can't read are passed on unchanged, so the
model's own check names what was expected.
"""

from typing import Any

from store import BadInput

# docker CLI flag (W&B's resource-arg key, as _flag_name reads it) -> launchbay's key. Canonical
# keys map to themselves so that a config mixing both spellings is merged in one place; a flag
# not listed is launchbay's key with `-` as `_` (`--shm-size` is shm_size, `--privileged`
# privileged), so every spelling meets that key's check.
ALIASES = {
    "e": "env",
    "env": "env",
    "v": "volumes",
    "volume": "volumes",
    "volumes": "volumes",
    "net": "network",
    "network": "network",
    "shm-size": "shm_size",
    "m": "memory",
    "memory-swap": "memory_swap",
    "pids-limit": "pids_limit",
    "ulimit": "ulimits",
    "u": "user",
    "w": "workdir",
    "l": "labels",
    "label": "labels",
    "labels": "labels",
    "cap-add": "cap_add",
    "device": "devices",
    "devices": "devices",
}
# docker CLI flags with no launchbay key, and why: refused naming the flag, not as "unknown".
UNSUPPORTED = {
    "p": "publishing ports is not supported (a container has no network unless its queue"
    " grants one)",
    "publish": "publishing ports is not supported (a container has no network unless its"
    " queue grants one)",
    "P": "publishing ports is not supported",
    "publish-all": "publishing ports is not supported",
    "add-host": "host entries are not supported",
    "env-file": "an env file is read on the agent's machine; give env: {NAME: VALUE} instead",
    "mount": "use volumes: [SOURCE:TARGET[:ro]], which the queue grants",
    "volumes-from": "another container's mounts are not supported",
    "security-opt": "security options are not supported",
    "entrypoint": "the job's entry point is the launch's overrides.entry_point",
    "name": "launchbay names the container launchbay-<run id>",
    # W&B's allow-list takes these; launchbay's queue limits are cpus and memory (a ceiling a
    # launch may lower), which these would slip past.
    **dict.fromkeys(
        ("cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems"),
        "CPU shares, periods, quotas and cpusets are not supported; expected cpus: N",
    ),
    "memory-reservation": "a memory reservation is not supported; expected memory: SIZE",
}
# docker CLI flags whose one value is what launchbay does anyway: taken and dropped (W&B's
# docs put `rm: true` in their example queue); any other value is refused, saying why.
ALREADY_DONE = {
    "rm": (
        True,
        "launchbay removes a run's container when it ends; expected true (a queue's"
        " keep_failed_containers: true keeps a failed one)",
    ),
    "d": (True, "launchbay runs every container detached; expected true"),
    "detach": (True, "launchbay runs every container detached; expected true"),
}
# Keys whose values are lists of entries (a W&B flag repeated): merged when spelt twice.
_LIST_KEYS = ("volumes", "cap_add", "devices")


def canonical(resource_args: dict) -> dict:
    """`resource_args` with W&B's docker flag spellings as launchbay's keys and value shapes.
    Raises BadInput for a flag launchbay does not support, or one key given two different
    values under two spellings."""
    if not isinstance(resource_args, dict):
        return resource_args
    result: dict[str, Any] = {}
    spelt: dict[str, str] = {}
    for key, value in resource_args.items():
        flag = _flag_name(key)
        if flag in UNSUPPORTED:
            raise BadInput(f"resource_args.{key}", UNSUPPORTED[flag])
        if flag in ALREADY_DONE:
            done, why = ALREADY_DONE[flag]
            if value is not done:
                raise BadInput(f"resource_args.{key}", why)
            continue
        name = ALIASES.get(flag, key if flag == key else flag.replace("-", "_"))
        value = _VALUE_SHAPES.get(name, _same)(value)
        if name not in result:
            result[name], spelt[name] = value, key
            continue
        merged = _merge(result[name], value)
        if merged is None:
            raise BadInput(
                f"resource_args.{key}",
                f"sets {name} as resource_args.{spelt[name]} does, with another value;"
                " expected one spelling",
            )
        result[name] = merged
    return result


def _flag_name(key: Any) -> Any:
    """`key` as W&B's runner reads a docker flag's name (utils._docker_arg_name): leading dashes
    dropped, `_` as `-`, lower case. `--shm-size`, `SHM_SIZE` and `shm-size` are one flag."""
    if not isinstance(key, str):
        return key
    return key.strip().lstrip("-").replace("_", "-").lower()


def _merge(first: Any, second: Any) -> Any:
    if first == second:
        return first
    if isinstance(first, dict) and isinstance(second, dict):
        clash = any(first[name] != second[name] for name in first.keys() & second.keys())
        return None if clash else {**first, **second}
    if isinstance(first, list) and isinstance(second, list):
        return [*first, *(entry for entry in second if entry not in first)]
    return None


def _same(value: Any) -> Any:
    return value


def _as_list(value: Any) -> Any:
    """A flag given once (`volume: /a:/b`) is a list of one."""
    return [value] if isinstance(value, str) else value


def _pairs(value: Any, *, bare: str | None) -> Any:
    """`["A=1", "B"]` or `"A=1"` as a mapping; a bare NAME takes `bare` with the name filled in
    (docker reads such an env variable from its caller's environment)."""
    entries = _as_list(value)
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        return value
    pairs = {}
    for entry in entries:
        name, equals, text = entry.partition("=")
        if not equals:
            if bare is None:
                return value  # not NAME=VALUE: the model says what it expects
            text = bare.format(name=name)
        pairs[name] = text
    return pairs


def _env(value: Any) -> Any:
    # `-e NAME` passes the caller's NAME: here the agent's, through the ${env:NAME} macro, which
    # only a queue's own config may use (a launch's is refused as any ${env:…} is).
    return _pairs(value, bare="${{env:{name}}}")


def _labels(value: Any) -> Any:
    return _pairs(value, bare="")  # `--label NAME`: a label with an empty value, as docker


def _gpus(value: Any) -> Any:
    """docker's --gpus: `all`, a count, or options `device=0,1` (also quoted, as the CLI's CSV
    wants it: `"device=0,1"`), `count=2`, `capabilities=…`, `driver=…` (docker's defaults)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if text == "all" or text.isdigit():
        return "all" if text == "all" else int(text)
    options: dict[str, list[str]] = {}
    option = None
    for part in text.split(","):
        name, equals, setting = part.strip().partition("=")
        if equals:
            option = name
            options.setdefault(name, []).append(setting)
        elif option is not None and name:
            options[option].append(name)  # device=0,1: the CSV split the option's list
        else:
            return value
    if set(options) - {"device", "count", "capabilities", "driver"}:
        return value  # not docker's syntax: the model says what it expects
    if "device" in options:
        return options["device"]
    count = (options.get("count") or [""])[-1]
    return "all" if count == "all" else int(count) if count.isdigit() else value


def _ulimits(value: Any) -> Any:
    """`nofile=1024:2048` (or a list of them) as {nofile: {soft: 1024, hard: 2048}}."""
    entries = _as_list(value)
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        return value
    limits: dict[str, Any] = {}
    for entry in entries:
        name, equals, numbers = entry.partition("=")
        soft, colon, hard = numbers.partition(":")
        try:
            parsed = (int(soft), int(hard)) if colon else (int(soft), int(soft))
        except ValueError:
            return value
        if not equals:
            return value
        limits[name] = parsed[0] if not colon else {"soft": parsed[0], "hard": parsed[1]}
    return limits


_VALUE_SHAPES = {
    "env": _env,
    "labels": _labels,
    "gpus": _gpus,
    "ulimits": _ulimits,
    **{key: _as_list for key in _LIST_KEYS},
}
