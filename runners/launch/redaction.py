"""Hiding secrets from what launchbay shows: one `redact` for every CLI and TUI display.

Hidden: values under a secret-looking name (by its words: `DB_PASS`, `SSH_KEY`, `apiToken`,
never `KEYBOARD` or `TOKENIZERS_PARALLELISM`), under any name a queue or a launch lists in
`secret_env`, Kubernetes `{name, value}` pairs of such names, the password in a URL's userinfo
(`postgres://user:***@host`), the value of `--password=…`/`--token …`-style arguments, and
every copy of a hidden value inside other text (an arg, LAUNCHBAY_CONFIG and its chunks).
"""

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "***"
# A queue's or the config file's notification block: its URLs carry tokens in their path
# (Slack, Discord, ntfy): each is shown as its scheme and ***.
NOTIFY_KEY = "notify"
# The key a queue config, a launch spec and a rendered spec list extra secret names under.
SECRET_ENV_KEY = "secret_env"
# A word of a name that alone makes it secret (`DB_PASS`, `auth`, `HF_TOKEN`).
SECRET_WORDS = frozenset(
    {
        "SECRET",
        "SECRETS",
        "TOKEN",
        "PASS",
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASSPHRASE",
        "PWD",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "PRIVATE",
        "AUTH",
        "OAUTH",
        "AUTHORIZATION",
        "APIKEY",
    }
)
# Words run together: `GITHUBTOKEN`, `DBPASSWORD`, `AWSACCESSKEY` end in one of these.
SECRET_ENDINGS = ("SECRET", "TOKEN", "PASSWORD", "PASSWD", "APIKEY", "ACCESSKEY", "PRIVATEKEY")
# Unambiguous anywhere in a name (`SECRETKEY`, `PASSWORDHASH`).
SECRET_PARTS = ("SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL")
# Shorter than this, or one of these words, a value is not looked for inside other text: it
# would hide too much (`AUTH_MODE: none` must not hide `network: none`).
MIN_COPY_LENGTH = 4
COMMON_VALUES = frozenset({"true", "false", "none", "null", "auto", "default", "disabled"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/@:]*:)([^\s/@]+)(?=@)")
# `--password=VALUE` or, inside one string, `--password VALUE` (a value is not a flag).
_FLAG_VALUE = re.compile(r"(?<![^\s\"'])(--?([A-Za-z][A-Za-z0-9_.-]*))(=|\s+(?=[^\s-]))([^\s\"']+)")
_FLAG = re.compile(r"--?([A-Za-z][A-Za-z0-9_.-]*)")
_CONFIG_CHUNK = re.compile(r"(LAUNCHBAY_CONFIG|WANDB_CONFIG|WANDB_LAUNCH_FILE_OVERRIDES)_\d+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def is_secret_name(name: str) -> bool:
    """Whether a value under `name` is a secret, judged by the words of the name."""
    words = [word.upper() for word in _WORD.findall(name)]
    joined = "".join(words)
    return (
        any(word in SECRET_WORDS or word.endswith(SECRET_ENDINGS) for word in words)
        or any(part in joined for part in SECRET_PARTS)
        # `SSH_KEY`, `apiKey`, `SIGNING_KEY`; a bare `key` (a selector's, a ConfigMap item's)
        # is not one.
        or ("KEY" in words and len(words) > 1)
    )


def check_secret_env(value: Any, field: str) -> list[str]:
    """`secret_env` of a queue config or a launch spec: a list of environment variable names
    whose values every display hides, whatever they are called."""
    from store import BadInput

    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(name, str) and _ENV_NAME.fullmatch(name) for name in value
    ):
        raise BadInput(field, f"{value!r}; expected a list of environment variable names")
    return sorted(set(value))


def declared_secret_names(value: Any) -> set[str]:
    """Every name listed under `secret_env` anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, dict):
        listed = value.get(SECRET_ENV_KEY)
        if isinstance(listed, list):
            found.update(name for name in listed if isinstance(name, str))
        for item in value.values():
            found |= declared_secret_names(item)
    elif isinstance(value, list):
        for item in value:
            found |= declared_secret_names(item)
    return found


def redact(value: Any, secret_names: Iterable[str] = ()) -> Any:
    """A copy of `value` for display, with its secrets shown as ***. `secret_names` adds names
    to those `value` itself lists under `secret_env`."""
    names = set(secret_names) | declared_secret_names(value)

    def secret(name: Any) -> bool:
        return isinstance(name, str) and (name in names or is_secret_name(name))

    secrets: set[str] = set()
    _collect(value, secret, secrets)
    secrets = {s for s in secrets if len(s) >= MIN_COPY_LENGTH and s.lower() not in COMMON_VALUES}
    # As a run config's JSON shows them (LAUNCHBAY_CONFIG): quotes, backslashes and non-ASCII
    # characters escaped.
    secrets |= {json.dumps(s)[1:-1] for s in secrets}
    return _hide(value, secret, secrets)


def _scalar(item: Any) -> bool:
    # Not a bool: automountServiceAccountToken: false hides nothing.
    return isinstance(item, str | int | float) and not isinstance(item, bool)


def _is_secret_pair(node: dict, secret: Callable[[Any], bool]) -> bool:
    """A Kubernetes-style env entry, {"name": "HF_TOKEN", "value": "…"}."""
    return "value" in node and secret(node.get("name"))


def _collect(node: Any, secret: Callable[[Any], bool], secrets: set[str]) -> None:
    """Every secret value in `node`, to hide its copies in other text too."""
    if isinstance(node, dict):
        if _is_secret_pair(node, secret) and _scalar(node["value"]):
            secrets.add(str(node["value"]))
        for key, item in node.items():
            if secret(key) and _scalar(item):
                secrets.add(str(item))
            elif key == NOTIFY_KEY:
                secrets.update(_notify_urls(item))
            else:
                _collect(item, secret, secrets)
    elif isinstance(node, list):
        for index in _flag_values_at(node, secret):
            secrets.add(node[index])
        for item in node:
            _collect(item, secret, secrets)
    elif isinstance(node, str):
        secrets.update(match.group(2) for match in _URL_PASSWORD.finditer(node))
        secrets.update(m.group(4) for m in _FLAG_VALUE.finditer(node) if secret(m.group(2)))


def _flag_values_at(items: list, secret: Callable[[Any], bool]) -> list[int]:
    """Where, in an argv list, the value after a secret flag (`--token`, VALUE) sits."""
    at = []
    for index, (flag, value) in enumerate(zip(items, items[1:], strict=False)):
        if not (isinstance(flag, str) and isinstance(value, str)) or value.startswith("-"):
            continue
        match = _FLAG.fullmatch(flag)
        if match and secret(match.group(1)):
            at.append(index + 1)
    return at


def _hide(node: Any, secret: Callable[[Any], bool], secrets: set[str]) -> Any:
    if isinstance(node, dict) and _is_secret_pair(node, secret) and _scalar(node["value"]):
        return {**node, "value": REDACTED}
    node = _hide_across_config_chunks(node, secrets)
    if isinstance(node, dict):
        return {
            key: REDACTED
            if secret(key) and _scalar(item)
            else _hide_notify(item)
            if key == NOTIFY_KEY
            else _hide(item, secret, secrets)
            for key, item in node.items()
        }
    if isinstance(node, list):
        flagged = set(_flag_values_at(node, secret))
        return [
            REDACTED if index in flagged else _hide(item, secret, secrets)
            for index, item in enumerate(node)
        ]
    if isinstance(node, str):
        node = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED, node)
        node = _FLAG_VALUE.sub(
            lambda m: m.group(1) + m.group(3) + REDACTED if secret(m.group(2)) else m.group(0),
            node,
        )
        for value in secrets:
            node = node.replace(value, REDACTED)
    return node


def _notify_urls(block: Any) -> list[str]:
    urls = block.get("urls") if isinstance(block, dict) else None
    return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []


def _hide_notify(block: Any) -> Any:
    """`{urls: [slack://T/B/C]}` shown as `{urls: [slack://***]}`."""
    if not _notify_urls(block):
        return block
    return {
        **block,
        "urls": [
            u.split("://", 1)[0] + "://" + REDACTED if isinstance(u, str) else u
            for u in block["urls"]
        ],
    }


def _hide_across_config_chunks(node: Any, secrets: set[str]) -> Any:
    """An env (a mapping, or a list of {name, value}) whose run config is cut into chunks
    (LAUNCHBAY_CONFIG_0..N, and W&B's WANDB_CONFIG_0..N and WANDB_LAUNCH_FILE_OVERRIDES_0..N),
    with every secret hidden in the chunks it spans: a secret cut in two is in neither chunk
    whole, so hiding chunk by chunk would show both halves."""
    if isinstance(node, dict):
        node = dict(node)
        for names in _chunk_families(k for k in node if isinstance(k, str)):
            hidden = _hide_spans([str(node[k]) for k in names], secrets)
            node.update(zip(names, hidden, strict=True))
    elif isinstance(node, list):
        at = {str(e.get("name")): i for i, e in enumerate(node) if isinstance(e, dict)}
        families = _chunk_families(at)
        if families:
            node = list(node)
        for names in families:
            hidden = _hide_spans([str(node[at[n]].get("value", "")) for n in names], secrets)
            for name, text in zip(names, hidden, strict=True):
                node[at[name]] = {**node[at[name]], "value": text}
    return node


def _chunk_families(names) -> list[list[str]]:
    """The chunk names among `names`, grouped by family and in order (_10 after _9)."""
    families: dict[str, list[str]] = {}
    for name in names:
        match = _CONFIG_CHUNK.fullmatch(name)
        if match:
            families.setdefault(match.group(1), []).append(name)
    return [sorted(found, key=_chunk_number) for found in families.values() if len(found) > 1]


def _chunk_number(name: str) -> int:
    return int(name.rsplit("_", 1)[1])  # LAUNCHBAY_CONFIG_10 after _9, not after _1


def _hide_spans(chunks: list[str], secrets: set[str]) -> list[str]:
    """`chunks` with each part that belongs to a secret in their joined text shown as ***."""
    joined = "".join(chunks)
    secret_at = [False] * len(joined)
    for secret in secrets:
        start = joined.find(secret)
        while start != -1:
            secret_at[start : start + len(secret)] = [True] * len(secret)
            start = joined.find(secret, start + 1)
    hidden, offset = [], 0
    for chunk in chunks:
        text, in_secret = [], False
        for position, char in enumerate(chunk, offset):
            if not secret_at[position]:
                text.append(char)
            elif not in_secret:
                text.append(REDACTED)
            in_secret = secret_at[position]
        hidden.append("".join(text))
        offset += len(chunk)
    return hidden


def restore_redacted(edited: Any, original: Any) -> Any:
    """`edited` with every value the user left as `redact(original)` showed it put back to the
    original's value at the same place: an editor can show a config without its secrets (a
    hidden env value, a URL's password, a flag's value) and still save it whole."""
    return _restore(edited, redact(original), original)


def _restore(edited: Any, shown: Any, original: Any) -> Any:
    if isinstance(edited, dict) and isinstance(shown, dict) and isinstance(original, dict):
        return {
            key: _restore(value, shown[key], original[key])
            if key in shown and key in original
            else value
            for key, value in edited.items()
        }
    if isinstance(edited, list) and isinstance(shown, list) and isinstance(original, list):
        return [
            _restore(e, s, o) for e, s, o in zip(edited, shown, original, strict=False)
        ] + edited[len(original) :]
    if shown != original and edited == shown:
        return original  # left as shown: the hidden value stands
    return edited
