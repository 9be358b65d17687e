"""The launch form: pick a job version and a queue, override the run from the keyboard, see the
exact spec the runner will get as you type, then ctrl+s to enqueue.

The form is generated from the job's input schema and the queue's template variables. Each
field is checked as you type (SchemaField); the whole launch is then checked and rendered by
the same code the CLI uses (runners.launch.request) on a worker thread, and the preview shows the
result — or, for a relaunch, its diff against the previous run's spec.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Header, Input, Label, Select, Static, Switch

from runners.gpus.overview import free_for_queue
from store import BadInput

from ..loading import Answered, LoaderHost
from ..widgets.agent_bar import AgentBar
from ..widgets.schema_form import SchemaForm
from ..widgets.spec_view import SpecView
from .launch_diff import show_relaunch_diff
from .launch_editor import YamlEditing
from .launch_fields import CONFIG_HINT, VARS_HINT, set_var_texts

PRIORITIES = ["critical", "high", "medium", "low"]


class LaunchScreen(LoaderHost, YamlEditing, Screen):
    # An 80x24 terminal over SSH: below 100 columns the form takes the width (no spec preview
    # beside it), below 32 lines its inputs lose their borders (app.tcss): five fields show.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("ctrl+s", "enqueue", "Enqueue", id="launch.enqueue"),
        # priority: an Input in focus would take ctrl+e as "end of line".
        Binding("ctrl+e", "edit_yaml", "Edit as YAML", id="launch.edit_yaml", priority=True),
        Binding("escape", "app.pop_screen", "Back", id="launch.back"),
    ]

    def __init__(
        self, job: str | None = None, queue: str | None = None, relaunch_of: str | None = None
    ) -> None:
        super().__init__()
        self.job = job
        self.queue = queue
        self.relaunch_of = relaunch_of
        self.previous_spec: dict | None = None
        self.resource_args_override: dict = {}
        self.dockerfile_override: str | None = None  # overrides.dockerfile, container queues
        self.retry_override: dict | None = None  # the launch's own retry policy (a relaunch's)
        self.form_error: str | None = "loading…"
        # Why the form could not load (the run to relaunch is gone…): it stays in the error
        # line, above whatever a later preview says, and ctrl+s refuses.
        self.load_error: str | None = None
        self.gpus_free: str | None = None  # "GPUs free now: 2 of 4", for a GPU queue
        self._prefill: dict = {}
        # run_config keys the job's schema has no field for (from a relaunch or the YAML
        # editor): kept and sent as they are.
        self._extra_config: dict = {}
        self._loaded_for: tuple[str, str] | None = None
        # The (job, queue) the fields were last asked for. Loads finish out of order, and two
        # rebuilds interleave at their awaits, so a stale load is dropped and rebuilds are
        # taken one at a time.
        self._fields_wanted: tuple[str, str] | None = None
        self._rebuilding = asyncio.Lock()
        # Preview threads can finish out of order (an exclusive worker's thread is not
        # stopped, only marked cancelled): each result carries the number of the form state
        # it was made for, and only the newest one is shown.
        self._form_version = 0
        self._enqueuing = False  # an enqueue is on its way: ctrl+s again does nothing
        self._choices = self.loader(
            "launch-load", self._read_choices, self._choices_loaded, self._load_failed
        )
        self._field_specs = self.loader(
            "fields", self._read_fields, self._build_fields, self._load_failed
        )
        self._preview = self.loader(
            "preview", self._read_preview, self._show_preview, self._preview_failed
        )

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="launch-body"):
            with VerticalScroll(id="launch-form"):
                yield Label("job (NAME, NAME:vN or NAME:ALIAS)")
                yield Input(value=self.job or "", id="launch-job", placeholder="job")
                yield Label("queue")
                yield Input(value=self.queue or "", id="launch-queue", placeholder="queue")
                yield Static("run config", classes="section")
                yield SchemaForm("run_config", id="launch-config-fields", classes="fields")
                yield Static("template variables", classes="section")
                yield SchemaForm("var", id="launch-var-fields", classes="fields")
                yield Static("command", classes="section")
                yield Label("entrypoint (empty: the job's)")
                yield Input(id="launch-entrypoint", placeholder="e.g. python train.py")
                yield Label("args (shlex-split)")
                yield Input(id="launch-args", placeholder="e.g. --epochs 3 --fast")
                yield Label("priority")
                yield Select(
                    [(p, p) for p in PRIORITIES],
                    value="medium",
                    allow_blank=False,
                    id="launch-priority",
                )
                yield Static("", id="launch-retry")  # a retry policy the launch carries
            with VerticalScroll(id="launch-preview-pane"):
                yield Static(
                    "spec the runner will receive", classes="section", id="launch-preview-title"
                )
                yield SpecView("", id="launch-preview")
        yield Static("", id="launch-error")
        yield AgentBar()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"relaunch {self.relaunch_of}" if self.relaunch_of else "launch"
        self._choices.start()

    # -- loading choices and the relaunch's previous run ------------------------------------

    def _read_choices(self) -> tuple[list[str], list[str], dict, dict | None]:
        store = self.app.stores.get()
        refs = []
        for version, _count in store.jobs.list_latest():
            refs.append(version.name)
            refs += [f"{v.name}:v{v.version}" for v in store.jobs.versions(version.name)]
            refs += [f"{version.name}:{a}" for a in version.aliases]
        queues = [q.name for q in store.queues.list()]
        prefill = {}
        previous_spec = None
        if self.relaunch_of:
            run = store.runs.get(self.relaunch_of)
            item = store.items.get(run.item_id)
            previous_spec = run.spec
            prefill = {
                "job": run.job,
                "queue": run.queue,
                "priority": item.priority.label,
                **item.launch,
            }
        return refs, queues, prefill, previous_spec

    def _load_failed(self, error: Exception) -> None:
        # A load that failed (the run to relaunch is gone, the store unreadable) is said in
        # the form's error line: else it stays at "loading…" for good, and ctrl+s refuses.
        self.load_error = f"could not load the form: {_error_text(error)}"
        self._show_result(None, self.load_error)

    def _choices_loaded(self, choices: tuple[list[str], list[str], dict, dict | None]) -> None:
        refs, queues, prefill, previous_spec = choices
        self._prefill = prefill
        self.previous_spec = previous_spec
        job_box = self.query_one("#launch-job", Input)
        queue_box = self.query_one("#launch-queue", Input)
        job_box.suggester = SuggestFromList(refs, case_sensitive=False)
        queue_box.suggester = SuggestFromList(queues, case_sensitive=False)
        if prefill:
            self.dockerfile_override = (prefill.get("build") or {}).get("dockerfile")
            self.show_retry(prefill.get("retry_override"), f"carried from run {self.relaunch_of}")
            launch_own = prefill.get("resource_args_override")
            self.resource_args_override = (
                launch_own if launch_own is not None else prefill.get("resource_args") or {}
            )
            job_box.value = prefill["job"]
            queue_box.value = prefill["queue"]
            self.query_one("#launch-priority", Select).value = prefill["priority"]
            if prefill.get("entry_point"):
                self.query_one("#launch-entrypoint", Input).value = shlex.join(
                    prefill["entry_point"]
                )
            if prefill.get("args"):
                self.query_one("#launch-args", Input).value = shlex.join(prefill["args"])
        if not job_box.value:
            job_box.value = refs[0] if refs else ""
        if not queue_box.value:
            queue_box.value = queues[0] if queues else ""
        (queue_box if job_box.value else job_box).focus()
        self.load_fields()

    # -- the generated fields ----------------------------------------------------------------

    def load_fields(self) -> None:
        """Read the job's schema and the queue's variables; rebuild the fields if they changed."""
        self._fields_wanted = (
            self.query_one("#launch-job", Input).value,
            self.query_one("#launch-queue", Input).value,
        )
        self._field_specs.start(*self._fields_wanted)

    def _read_fields(self, job_ref: str, queue_name: str):
        """((job, queue) asked for, the job's schema, the queue's variables); None: unknown."""
        store = self.app.stores.get()
        schema, variables = None, None
        with contextlib.suppress(BadInput):
            schema = store.jobs.resolve(job_ref.strip()).input_schema or {}
        with contextlib.suppress(BadInput):
            variables = store.queues.get(queue_name.strip()).template_variables
        return (job_ref, queue_name), schema, variables

    async def _build_fields(self, read) -> None:
        key, schema, variables = read
        if key != self._fields_wanted:
            return
        async with self._rebuilding:
            if key == self._fields_wanted and key != self._loaded_for:
                await self._rebuild_fields(key, schema, variables)
        self.refresh_preview()

    async def _rebuild_fields(self, key, schema: dict | None, variables: dict | None) -> None:
        self._loaded_for = key
        prefill_config = self._prefill.get("run_config") or {}
        properties = (schema or {}).get("properties") or {}
        await self.config_form.set_schema(properties, prefill_config, CONFIG_HINT, root=schema)
        await self.vars_form.set_schema(
            variables or {}, self._prefill.get("template_variables") or {}, VARS_HINT
        )
        self._extra_config = {k: v for k, v in prefill_config.items() if k not in properties}

    # -- reading the form --------------------------------------------------------------------

    @property
    def config_form(self) -> SchemaForm:
        return self.query_one("#launch-config-fields", SchemaForm)

    @property
    def vars_form(self) -> SchemaForm:
        return self.query_one("#launch-var-fields", SchemaForm)

    def build_request(self):
        """A LaunchRequest from the form; field errors are marked and returned as a list."""
        from runners.launch.request import LaunchRequest

        errors = self.config_form.errors() + self.vars_form.errors()
        run_config = {**self._extra_config, **self.config_form.values()}
        set_vars = set_var_texts(self.vars_form)
        args_text = self.query_one("#launch-args", Input).value.strip()
        entry_text = self.query_one("#launch-entrypoint", Input).value.strip()
        spec: dict = {"overrides": {"run_config": run_config}}
        if self.resource_args_override:
            spec["resource_args"] = self.resource_args_override
        if self.dockerfile_override:
            spec["overrides"]["dockerfile"] = self.dockerfile_override
        if self.retry_override is not None:
            spec["retry"] = self.retry_override
        request = LaunchRequest(
            job=self.query_one("#launch-job", Input).value.strip(),
            queue=self.query_one("#launch-queue", Input).value.strip(),
            spec=spec,
            set_vars=set_vars,
            args=[args_text] if args_text else [],
            entry_point=entry_text or None,
            priority=str(self.query_one("#launch-priority", Select).value),
        )
        return request, errors

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _form_changed(self, event) -> None:
        if getattr(event, "input", None) is not None and event.input.id in (
            "launch-job",
            "launch-queue",
        ):
            self.load_fields()
            return
        self.refresh_preview()

    def refresh_preview(self) -> None:
        self._form_version += 1
        if self._rebuilding.locked():  # fields half-mounted: the rebuild refreshes when done
            return
        request, errors = self.build_request()
        if errors:
            self._show_result(None, errors[0])
            return
        self._preview.start(request, self._form_version)

    def _read_preview(self, request, version: int) -> tuple:
        """(the form state it was made for, the spec the runner would get, why there is none,
        how many GPUs are free now for a queue that hands them out)"""
        from runners.launch.rendering import redact
        from runners.launch.request import prepare_launch, preview

        store = self.app.stores.get()
        gpus_free = free_for_queue(store, request.queue)
        try:
            return version, redact(preview(store, prepare_launch(store, request))), None, gpus_free
        except BadInput as exc:
            return version, None, str(exc), gpus_free

    def _show_preview(self, read: tuple) -> None:
        version, spec, error, self.gpus_free = read
        if version == self._form_version:  # else the form changed since (no preview started
            self._show_result(spec, error)  # when its fields have errors): a newer one comes

    def _preview_failed(self, error: Exception) -> None:
        self._show_result(None, f"no preview: {_error_text(error)}")

    def _show_result(self, spec: dict | None, error: str | None) -> None:
        error = self.load_error or error
        self.form_error = error
        banner = self.query_one("#launch-error", Static)
        banner.set_class(error is None, "-ok")
        gpus = f" · {self.gpus_free}" if self.gpus_free else ""
        banner.update(Text(f"✗ {error}{gpus}") if error else f"✓ ready: ctrl+s enqueues{gpus}")
        if spec is None:
            return
        preview = self.query_one("#launch-preview", SpecView)
        title = self.query_one("#launch-preview-title", Static)
        if self.previous_spec is not None:
            title.update(Text(f"diff against run {self.relaunch_of}'s spec"))
            show_relaunch_diff(preview, self.previous_spec, spec)
        else:
            preview.show_spec(spec)

    # -- actions -------------------------------------------------------------------------------

    def _still_loading(self, refused: str) -> bool:
        """True, and the user told, while the fields are rebuilt: they are half-mounted then."""
        if self._rebuilding.locked():
            self.notify(f"{refused}: the form is still loading", severity="warning")
            return True
        return False

    def action_enqueue(self) -> None:
        if self._enqueuing or self._still_loading("not enqueued"):
            return
        request, errors = self.build_request()
        if errors or self.form_error:
            self.notify(
                f"not enqueued: {errors[0] if errors else self.form_error}",
                severity="error",
                markup=False,
            )
            return
        self._enqueuing = True
        app = self.app
        # The app's worker, not the form's: Esc right after ctrl+s must not cancel the enqueue.
        app.run_worker(
            lambda: self._enqueue(app, request),
            thread=True,
            group="enqueue",
            exit_on_error=False,
        )

    def _enqueue(self, app: App, request) -> None:
        # On a thread. `app` is handed in: once the form is closed, self.app can't be found here.
        from runners.launch.request import enqueue, prepare_launch

        store = app.stores.get()
        try:
            prepared = prepare_launch(store, request)
            item_id = enqueue(store, prepared)
        except BadInput as exc:
            app.post_message(Answered(self._not_enqueued, str(exc)))
            return
        except Exception as exc:  # a bug: said, and still raised for the worker's log
            app.post_message(Answered(self._not_enqueued, f"{type(exc).__name__}: {exc}"))
            raise
        app.post_message(Answered(self._enqueued, item_id, prepared.job.ref, prepared.queue.name))

    def _not_enqueued(self, error: str) -> None:
        self._enqueuing = False
        if self.is_attached:
            self._show_result(None, error)
        else:  # closed meanwhile: the notification is all there is
            self.notify(f"not enqueued: {error}", severity="error", markup=False)

    def _enqueued(self, item_id: int, job: str, queue: str) -> None:
        self.notify(f"enqueued {job} on {queue} as item {item_id}", markup=False)
        if self.is_active:  # else closed meanwhile, or under another screen: pop nothing else
            self.dismiss()
            if self.app.config.after_launch == "run":
                from .launched import LaunchedItemScreen

                self.app.action_go("runs")  # the Runs section, where escape then leads
                self.app.push_screen(LaunchedItemScreen(item_id))
        else:
            self._enqueuing = False  # still open: it may enqueue again


def _error_text(error: Exception) -> str:
    """A user's mistake as it is; anything else with its type (a bug, a broken store)."""
    return str(error) if isinstance(error, BadInput) else f"{type(error).__name__}: {error}"
