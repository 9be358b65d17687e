"""Describe one run: state, error, handle, events timeline and the rendered spec (secrets
hidden). Refreshes as the run changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Static

from store import BadInput, NotFound, Run

from ..loading import Answered
from ..timefmt import ago, run_duration
from ..widgets.agent_bar import AgentBar
from ..widgets.badges import state_text
from .live import LiveScreen


@dataclass(frozen=True)
class RunRead:
    """One read of a run, secrets hidden: what the screen shows."""

    run: Run
    events: list
    spec: dict
    handle: dict | None
    log_path: Path
    gpus: list = field(default_factory=list)  # store.gpus.GpuAllocation, by device index


class RunDetailScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="run.back"),
        Binding("l", "logs", "Logs", id="run.logs"),
        Binding("c", "charts", "Charts", id="run.charts"),
        Binding("ctrl+k", "cancel", "Cancel", id="run.cancel"),
        Binding("r", "relaunch", "Relaunch", id="run.relaunch"),
        Binding("f", "files", "Files", id="run.files"),
        Binding("t", "tags", "Tags", id="run.tags"),
        Binding("n", "note", "Note", id="run.note"),
    ]

    def __init__(self, run_id: str, open_log_when_started: bool = False) -> None:
        """`open_log_when_started`: just launched from the form: the log opens once the run
        has started (or has already ended)."""
        super().__init__()
        self.run_id = run_id
        self.open_log_when_started = open_log_when_started
        self.run = None
        self._run_loader = self.loader("run-detail", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with VerticalScroll(id="run-detail"):
            yield Static("loading…", id="run-summary")
            yield Static(id="run-events")
            yield Static(id="run-spec")
        yield AgentBar()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id}"
        self.reload()

    def load(self) -> None:
        """Read the run again, on a thread."""
        self._run_loader.start()

    def _read(self) -> RunRead:
        from runners.launch.rendering import redact

        store = self.app.stores.get()
        run = store.runs.get(self.run_id)
        events = store.runs.events(self.run_id)
        log_path = store.run_log_path(run.id)
        gpus = store.gpus.of_run(self.run_id)
        return RunRead(run, events, redact(run.spec), redact(run.handle), log_path, gpus)

    def _failed(self, error: Exception) -> None:
        # Said in place of the run: else the screen stays at "loading…" for good. A run that
        # is not there is no failure of the app: said, not notified.
        if isinstance(error, NotFound):
            line = str(error)
        else:
            line = self.show_load_failed("the run", error)
        self.query_one("#run-summary", Static).update(Content.styled(line, "red"))

    def _show(self, read: RunRead) -> None:
        self.run = read.run
        if self.open_log_when_started and read.run.started_at is not None and self.is_current:
            self.open_log_when_started = False
            self.action_logs()
        self.query_one("#run-summary", Static).update(
            run_summary(read.run, read.handle, read.log_path, read.gpus)
        )
        self.query_one("#run-events", Static).update(events_text(read.events))
        self.query_one("#run-spec", Static).update(
            Content.assemble("\n", ("spec", "bold"), " (what the runner received)\n")
            + Content(json.dumps(read.spec, indent=2))
        )

    def action_logs(self) -> None:
        from .run_log import RunLogScreen

        self.app.push_screen(RunLogScreen(self.run_id))

    def action_charts(self) -> None:
        from .run_charts import RunChartsScreen

        self.app.push_screen(RunChartsScreen(self.run_id))

    def action_cancel(self) -> None:
        from .cancelling import confirm_cancel

        if self.run is not None and not self.run.state.is_terminal():
            confirm_cancel(self, self.run.id, Content.assemble("run ", (self.run.id, "bold")))

    def action_tags(self) -> None:
        from .prompt import PromptScreen

        if self.run is None:
            return
        before = set(self.run.tags)

        def save(text: str | None) -> None:
            if text is None:
                return
            after = list(dict.fromkeys(text.replace(",", " ").split()))
            added = [t for t in after if t not in before]
            removed = sorted(before - set(after))
            self._write(lambda store: store.runs.tag(self.run_id, add=added, remove=removed))

        self.app.push_screen(
            PromptScreen("tags (separated by spaces)", " ".join(self.run.tags), "best sweep-3"),
            save,
        )

    def action_note(self) -> None:
        from .prompt import PromptScreen

        if self.run is None:
            return

        def save(text: str | None) -> None:
            if text is not None:
                self._write(lambda store: store.runs.set_note(self.run_id, text))

        self.app.push_screen(PromptScreen("note (empty: none)", self.run.note or ""), save)

    def _write(self, write) -> None:
        """Run `write(store)` on a worker thread (it waits for the store's write lock); a
        refusal (a bad tag) is a notification. The store's change shows the result."""

        def run() -> None:
            try:
                write(self.app.stores.get())
            except BadInput as exc:
                self.app.post_message(
                    Answered(self.notify, str(exc), severity="error", markup=False)
                )

        self.run_worker(run, thread=True, exit_on_error=False, group="run-write")

    def action_files(self) -> None:
        from .run_files import RunFilesScreen

        self.app.push_screen(RunFilesScreen(self.run_id))

    def action_relaunch(self) -> None:
        from .launch import LaunchScreen

        self.app.push_screen(LaunchScreen(relaunch_of=self.run_id))


# -- what the screen shows, as plain functions of the records --------------------------------
# Content, never markup: a store's strings ("[run]", "[/x] boom") must show as they are.


def _fact(name: str, value: str | Content) -> Content:
    return Content.assemble((f"{name:<11}", "bold"), value)


def run_summary(run, handle, log_path, gpus=()) -> Content:
    """The run's facts, one per line; its error as `[stage] message`."""
    from runners.launch.retry import attempt_text

    state = state_text(run.state.value)
    if run.message:
        state += f"  {run.message}"
    lines = [
        _fact("run", run.id),
        _fact("job", run.job),
        _fact("queue", f"{run.queue} ({run.resource})   ")
        + Content.assemble(("item", "bold"), f" {run.item_id}"),
        *([_fact("attempt", attempt)] if (attempt := attempt_text(run.spec)) else []),
        _fact("state", state),
        _fact("exit code", "-" if run.exit_code is None else str(run.exit_code)),
        _fact("tags", " ".join(run.tags) or "- (t adds)"),
    ]
    if run.note:
        lines.append(_fact("note", run.note.replace("\n", "\n" + " " * 11)))
    if run.error_stage or run.error_message:
        error = f"[{run.error_stage}] {run.error_message}"
        lines.append(_fact("error", Content.styled(error, "red")))
    lines += [
        _fact("created", f"{ago(run.created_at)}   ")
        + Content.assemble(("duration", "bold"), f" {run_duration(run.started_at, run.ended_at)}"),
        *([_fact("gpus", gpus_text(gpus))] if gpus else []),
        _fact("handle", json.dumps(handle) if handle else "-"),
        _fact("log", str(log_path)),
    ]
    return Content("\n").join(lines)


def gpus_text(gpus) -> str:
    """`0 (87%, 40123 MiB), 1 (…)`: each device the run was given, as last sampled."""
    parts = []
    for gpu in gpus:
        if gpu.sampled_at is None:
            parts.append(str(gpu.index))
            continue
        util = "-" if gpu.utilization_percent is None else f"{gpu.utilization_percent}%"
        parts.append(f"{gpu.index} ({util}, {gpu.memory_used_mib} MiB, {ago(gpu.sampled_at)})")
    return ", ".join(parts)


def events_text(events) -> Content:
    """The run's timeline: when, from → to, and the event's message."""
    lines = [Content(""), Content.styled("events", "bold")]
    for event in events:
        lines.append(
            Content.assemble(
                f"  {ago(event.at):>12}  {event.from_state or '·'} → ",
                state_text(event.to_state),
                f"  {event.message or ''}",
            )
        )
    return Content("\n").join(lines)
