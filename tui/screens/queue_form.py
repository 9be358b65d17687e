"""Create a queue, or edit one's config: the YAML is checked against the resource type as it is
typed, and again before anything is saved. Dismisses with the queue's name, or None."""

from __future__ import annotations

from typing import Any

import yaml
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from runners import registry
from runners.catalog.queues import check_queue_config, parse_max_concurrency, update_queue
from runners.launch.documents import parse_yaml
from runners.launch.rendering import redact
from runners.registry import CONFIG_BLOCKS, resource_type
from store import BadInput, Queue

from ..loading import Answered, LoaderHost

CONFIG_PLACEHOLDER = """\
resource_args:        # the settings of the type: the keys listed above
  {}
template_variables:   # values a launch may set, e.g.
  {}                  #   threads: {type: integer, default: 4}"""


def parse_config_text(text: str) -> Any:
    """The YAML (or JSON) typed into the form; nothing typed is an empty config."""
    if not text.strip():
        return {}
    return parse_yaml(text, "config", "the config")


def check_config_text(resource: str, text: str) -> dict:
    """The typed config, parsed and checked for `resource`. Raises BadInput."""
    return check_queue_config(resource_type(resource).name, parse_config_text(text))


def declared_keys(resource: str) -> tuple[str, str]:
    """The keys `resource` declares for its queue config, one line per block, and each key
    with its help (a tooltip); empty for a type no longer registered."""
    try:
        entry = resource_type(resource)
    except BadInput:
        return "", ""
    blocks = {block: entry.config_keys(block) for block in CONFIG_BLOCKS}
    line = "\n".join(
        f"{block}: {', '.join(key.name for key in keys)}" for block, keys in blocks.items() if keys
    )
    helps = "\n".join(
        f"{block}.{key.name}: {key.help}" for block, keys in blocks.items() for key in keys
    )
    return line or f"{entry.name} declares no config keys", helps


def config_yaml(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


class QueueFormScreen(LoaderHost, ModalScreen[str | None]):
    """`queue` None: create a queue. Otherwise edit its config and max concurrency (its name
    and resource type are fixed)."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="queue_form.save"),
        Binding("escape", "cancel", "Cancel", id="queue_form.cancel"),
    ]

    def __init__(self, queue: Queue | None = None) -> None:
        super().__init__()
        self.queue = queue
        self._saving = False

    def compose(self) -> ComposeResult:
        queue = self.queue
        names = [entry.name for entry in registry.RESOURCE_TYPES]  # as registered now
        if queue is not None and queue.resource not in names:
            names.append(queue.resource)  # a type no longer registered still shows
        with Vertical(id="queue-form", classes="dialog"):
            title = (
                "New queue"
                if queue is None
                else Content.assemble("Edit queue ", (queue.name, "bold"))
            )
            yield Static(title, id="queue-form-title")
            with Horizontal(classes="form-row"):
                yield Label("name")
                yield Input(
                    value=queue.name if queue else "",
                    placeholder="e.g. gpu-a100",
                    id="queue-name",
                    disabled=queue is not None,
                )
            with Horizontal(classes="form-row"):
                yield Label("resource type")
                yield Select(
                    [(name, name) for name in names],
                    value=queue.resource if queue else names[0],
                    allow_blank=False,
                    id="queue-resource",
                    disabled=queue is not None,
                )
            with Horizontal(classes="form-row"):
                yield Label("max concurrency")
                yield Input(
                    value=str(queue.max_concurrency or "") if queue else "",
                    placeholder="no limit",
                    id="queue-max",
                )
            yield Label(
                "config (YAML): resource_args, template_variables, registry, builder, target,"
                " max_resumes, retry, notify"
            )
            yield Static(id="queue-config-keys")
            yield TextArea(
                # Secrets show as ***; saving puts them back (restore_redacted).
                config_yaml(redact(queue.config)) if queue else "",
                placeholder=CONFIG_PLACEHOLDER,
                id="queue-config",
            )
            yield Static("checking…", id="queue-config-check")
        yield Footer()

    def on_mount(self) -> None:
        first = "#queue-config" if self.queue else "#queue-name"
        self.query_one(first).focus()
        self._resource_changed()
        self._config_changed()

    def _values(self) -> tuple[str, str, str, str]:
        """name, resource, max concurrency text, config text: as typed."""
        resource = self.query_one("#queue-resource", Select).value
        return (
            self.query_one("#queue-name", Input).value.strip(),
            "" if resource is Select.NULL else str(resource),
            self.query_one("#queue-max", Input).value,
            self.query_one("#queue-config", TextArea).text,
        )

    # -- checking as you type ----------------------------------------------------------------

    @on(Select.Changed, "#queue-resource")
    def _resource_changed(self) -> None:
        # What the selected type declares; read from its source, so at once and without its SDK.
        line, helps = declared_keys(self._values()[1])
        keys = self.query_one("#queue-config-keys", Static)
        keys.update(Content(line))
        keys.tooltip = Content(helps) if helps else None

    @on(TextArea.Changed, "#queue-config")
    @on(Select.Changed, "#queue-resource")
    def _config_changed(self) -> None:
        _, resource, _, text = self._values()
        self._check(resource, text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-form-check")
    def _check(self, resource: str, text: str) -> None:
        # A thread: the first check of a resource type imports its runner (and SDK).
        try:
            check_config_text(resource, text)
            error = None
        except BadInput as exc:
            error = str(exc)
        if not get_current_worker().is_cancelled:
            # Posted (a closed form drops it), never call_from_thread (see tui/loading.py).
            self.post_message(Answered(self._show_check, resource, text, error))

    def _show_check(self, resource: str, text: str, error: str | None) -> None:
        if not self.is_attached:
            return  # dismissed meanwhile
        _, now_resource, _, now_text = self._values()
        if (resource, text) != (now_resource, now_text):
            return  # typed since: a newer check is on its way
        self._show_verdict(error)

    def _show_verdict(self, error: str | None) -> None:
        line = self.query_one("#queue-config-check", Static)
        # Content: the error quotes what was typed, half a tag ("[/") included.
        line.update("✓ valid" if error is None else Content(" ".join(error.split())))
        line.set_class(error is not None, "-invalid")

    # -- saving ------------------------------------------------------------------------------

    def action_save(self) -> None:
        if not self._saving:
            self._saving = True
            self._save(self.app, *self._values())

    @work(thread=True, exclusive=True, exit_on_error=False, group="queue-form-save")
    def _save(self, app: App, name: str, resource: str, max_text: str, text: str) -> None:
        # `app` is handed in: once the form is closed, self.app can't be found from this thread.
        store = app.stores.get()
        try:
            max_concurrency = parse_max_concurrency(max_text)
            if self.queue is None:
                canonical = resource_type(resource).name
                config = check_config_text(canonical, text)
                queue = store.queues.create(name, canonical, config, max_concurrency)
                message = f"created queue {queue.name} ({queue.resource})"
            else:
                queue = update_queue(
                    store, self.queue.name, parse_config_text(text), max_concurrency
                )
                message = f"saved queue {queue.name}"
        except BadInput as exc:
            app.post_message(Answered(self._refuse, str(exc)))
            return
        app.post_message(Answered(self._saved, queue.name, message))

    def _refuse(self, error: str) -> None:
        self._saving = False
        if self.is_attached:  # else closed meanwhile: the notification is all there is
            self._show_verdict(error)
        self.notify(error, title="not saved", severity="error", markup=False)

    def _saved(self, name: str, message: str) -> None:
        self.notify(message, timeout=3, markup=False)
        if self.is_active:  # closed meanwhile: dismissing now would pop another screen
            self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self._saving = False
            self.notify(f"failed: {event.worker.error}", severity="error", markup=False)
