"""The launch form's ctrl+e: its overrides as YAML in $EDITOR, what comes back applied.

Secrets show as *** in the file (it sits in the temp folder; the editor may keep a swap file or
be on a shared screen); a *** left as it was keeps its value (runners.launch.rendering)."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from rich.text import Text
from textual.widgets import Input, Static

from store import BadInput


class YamlEditing:
    """Mixed into LaunchScreen: the editor round trip, on the UI thread; the launch's own
    retry policy (no field of its own: carried by a relaunch, changed in the YAML)."""

    def show_retry(self, policy: dict | None, whence: str) -> None:
        """Keep the launch's own retry policy, and say in the form that it does."""
        from runners.launch.retry import policy_text

        self.retry_override = policy
        line = self.query_one("#launch-retry", Static)
        line.update(Text(f"retry: {policy_text(policy)} ({whence}; ctrl+e)") if policy else "")
        line.set_class(policy is not None, "-carried")

    def action_edit_yaml(self) -> None:
        """The overrides as YAML in $EDITOR; what comes back replaces the form's values.

        Secrets show as *** there (the file sits in the temp folder, the editor may keep a
        swap file or show it on a shared screen); a *** left as it was keeps its value."""
        import yaml

        from runners.launch.rendering import redact

        # This check covers _apply_yaml too: the editor runs on the UI thread, so no rebuild
        # can start before its result is applied.
        if self._still_loading("not opened in the editor"):
            return
        request, _errors = self.build_request()
        document = {
            "overrides": {
                "run_config": request.spec["overrides"]["run_config"],
                "args": shlex.split(request.args[0]) if request.args else [],
                "entry_point": request.entry_point,
                **({"dockerfile": self.dockerfile_override} if self.dockerfile_override else {}),
            },
            "resource_args": self.resource_args_override,
            **({"retry": self.retry_override} if self.retry_override is not None else {}),
        }
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("# launchbay launch overrides: save and quit to apply\n")
            yaml.safe_dump(redact(document), f, sort_keys=False)
            path = Path(f.name)
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        try:
            try:
                with self.app.suspend():
                    subprocess.run([*editor, str(path)], check=False)
            except Exception:  # no terminal to hand over (headless): run it as is
                subprocess.run(
                    [*editor, str(path)], check=False, stdin=subprocess.DEVNULL, capture_output=True
                )
            self._apply_yaml(path.read_text(), document)
        finally:
            path.unlink(missing_ok=True)

    def _apply_yaml(self, text: str, original: dict) -> None:
        """Apply the edited document; `original` is what the editor was given, unredacted."""
        import yaml

        from runners.launch.documents import expect_mapping, parse_yaml, refuse_unknown_keys
        from runners.launch.rendering import restore_redacted
        from runners.launch.request import OVERRIDE_KEYS, SPEC_KEYS
        from runners.launch.retry import check_retry

        try:
            edited = parse_yaml(text, "launch spec", "the edited YAML")
            document = expect_mapping(edited, "launch spec")
            document = restore_redacted(document, original)
            refuse_unknown_keys(document, SPEC_KEYS, "")
            overrides = expect_mapping(document.get("overrides"), "overrides")
            refuse_unknown_keys(overrides, OVERRIDE_KEYS, "overrides")
            run_config = expect_mapping(overrides.get("run_config"), "overrides.run_config")
            args = overrides.get("args") or []
            if not isinstance(args, list):
                raise BadInput("overrides.args", "expected a list")
            resource_args = expect_mapping(document.get("resource_args"), "resource_args")
            retry = check_retry(document.get("retry"))
        except (BadInput, yaml.YAMLError) as exc:
            self.notify(f"YAML not applied: {exc}", severity="error", timeout=8, markup=False)
            return
        self.resource_args_override = resource_args
        self.show_retry(retry, "from the YAML")
        self.dockerfile_override = overrides.get("dockerfile") or None
        form = self.config_form
        self._extra_config = {k: v for k, v in run_config.items() if k not in form.names}
        form.set_values(run_config)
        self.query_one("#launch-args", Input).value = shlex.join(str(a) for a in args)
        entry = overrides.get("entry_point")
        self.query_one("#launch-entrypoint", Input).value = (
            shlex.join(entry) if isinstance(entry, list) else (entry or "")
        )
        self.refresh_preview()
