"""The Jobs screen: every job with its latest version; the selected job's versions, source,
entrypoint and input schema. `n` creates a job, `L` launches the selected one."""

from __future__ import annotations

import json

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from store import JobVersion, NotFound
from store.jobs import CreatedVersion

from ..timefmt import ago
from ..widgets.agent_bar import AgentBar
from .live import LiveScreen

EMPTY_TEXT = "no jobs yet: press n to create one (an image, a code directory or a git repository)"
JOB_COLUMNS = ("job", "latest", "type", "versions", "aliases", "description")


class JobsScreen(LiveScreen):
    BINDINGS = [
        Binding("n", "new_job", "New job", id="jobs.new"),
        Binding("L", "launch", "Launch", id="jobs.launch"),
    ]

    class Select(Message):
        """Put the cursor on job `name` (once the jobs are loaded)."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, tuple[JobVersion, int]] = {}
        self._loaded = False
        self._select_next: str | None = None  # a job to put the cursor on after the next load
        self._jobs_loader = self.loader("jobs", self._read_jobs, self._show_jobs, self._failed)
        self._detail_loader = self.loader(
            "job-detail", self._read_detail, self._show_detail, self._failed
        )

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="job-detail"):
            yield Static("loading…", id="job-summary")
            yield Static(id="job-versions")
            yield Static(id="job-schema")
        yield Static(id="jobs-status", classes="status")
        yield AgentBar()
        yield Footer()

    @property
    def table(self) -> DataTable:
        return self.query_one("#jobs-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "jobs"
        self.table.add_columns(*JOB_COLUMNS)
        self.table.focus()
        self.reload()

    def on_jobs_screen_select(self, message: Select) -> None:
        if self._loaded and message.name in self.jobs:
            self._move_to(message.name)
        else:
            self._select_next = message.name
            self.reload()

    # -- loading -----------------------------------------------------------------------------

    def load(self) -> None:
        """Read the jobs again, on a thread."""
        self._jobs_loader.start()

    def _read_jobs(self) -> list[tuple[JobVersion, int]]:
        return self.app.stores.get().jobs.list_latest()

    def load_detail(self, name: str) -> None:
        """Read job `name`'s versions, on a thread, for the detail pane."""
        self._detail_loader.start(name)

    def _read_detail(self, name: str) -> tuple[str, list[JobVersion]]:
        try:
            return name, self.app.stores.get().jobs.versions(name)
        except NotFound:  # removed between the list and now: the next list drops it
            return name, []

    def _show_jobs(self, jobs: list[tuple[JobVersion, int]]) -> None:
        table = self.table
        wanted = self._select_next or self.selected_name
        self._select_next = None
        fresh = {version.name: (version, count) for version, count in jobs}
        if not self._loaded or fresh != self.jobs:
            self.jobs = fresh
            table.clear()
            for version, count in jobs:
                table.add_row(*job_row(version, count), key=version.name)
        self._loaded = True
        if wanted in self.jobs:
            self._move_to(wanted)
        self._update_status()
        if name := self.selected_name:
            self.load_detail(name)  # its versions may have changed even if the list did not
        else:
            self._show_empty_detail()

    def _move_to(self, name: str) -> None:
        self.table.move_cursor(row=self.table.get_row_index(name))

    @property
    def selected_name(self) -> str | None:
        """The name of the job under the cursor, if any."""
        table = self.table
        if not self.jobs or table.row_count == 0:
            return None
        if not table.is_valid_coordinate(table.cursor_coordinate):
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._update_status()
        if event.row_key.value is not None:
            self.load_detail(event.row_key.value)

    def _update_status(self) -> None:
        if not self.jobs:
            text = "no jobs yet · n creates one" if self._loaded else "loading…"
        else:
            text = f"{len(self.jobs)} job{'s' if len(self.jobs) != 1 else ''}"
            if name := self.selected_name:
                text += f" · row {self.table.cursor_row + 1} · L launches {name}"
        self.query_one("#jobs-status", Static).update(text)

    def _failed(self, error: Exception) -> None:
        # Said where the jobs would be: else the screen stays at "loading…" for good.
        line = self.show_load_failed("the jobs", error)
        if not self._loaded:
            self.query_one("#job-summary", Static).update(Text(line))
        self.query_one("#jobs-status", Static).update(Text(line))

    # -- the detail pane ----------------------------------------------------------------------

    def _show_empty_detail(self) -> None:
        self.query_one("#job-summary", Static).update(EMPTY_TEXT)
        self.query_one("#job-versions", Static).update("")
        self.query_one("#job-schema", Static).update("")

    def _show_detail(self, read: tuple[str, list[JobVersion]]) -> None:
        name, versions = read
        if name != self.selected_name or not versions:
            return  # the cursor moved on while this was read (a newer read is on its way)
        latest = versions[0]
        self.query_one("#job-summary", Static).update(describe_version(latest, len(versions)))
        self.query_one("#job-versions", Static).update(versions_table(versions))
        self.query_one("#job-schema", Static).update(schema_table(latest.input_schema))

    # -- actions -----------------------------------------------------------------------------

    def action_new_job(self) -> None:
        from .job_form import JobFormScreen

        def created(result: CreatedVersion | None) -> None:
            if result is not None:
                self._select_next = result.version.name
                self.reload()

        self.app.push_screen(JobFormScreen(), created)

    def action_launch(self) -> None:
        from .launch import LaunchScreen

        name = self.selected_name
        if name is None:
            self.notify("no job selected: press n to create one", severity="warning", timeout=3)
            return
        version, _ = self.jobs[name]
        self.app.push_screen(LaunchScreen(job=f"{name}:v{version.version}"))


# -- what the screen shows, as plain functions of the records --------------------------------


def job_row(version: JobVersion, count: int) -> tuple[str, ...]:
    """One row of the jobs table (the CLI's `job list` columns, less the created time).

    Escaped: a DataTable reads a str cell as markup, and a description is the user's."""
    return tuple(
        escape(cell)
        for cell in (
            version.name,
            f"v{version.version}",
            version.type,
            str(count),
            ", ".join(a for a in version.aliases if a != "latest") or "-",
            version.description or "-",
        )
    )


def describe_source(version: JobVersion) -> str:
    """Where the job's code comes from, on one line."""
    source = version.source
    if version.type == "image":
        return f"image {source.get('image')}"
    if version.type == "code":
        files = source.get("files")
        plural = "s" if files != 1 else ""
        text = f"snapshot {str(source.get('artifact'))[:12]} · {files} file{plural}"
        return text + (" · requirements.txt" if source.get("requirements") else "")
    if version.type == "git":
        text = f"git {source.get('url')} @ {str(source.get('commit'))[:12]}"
        return text + (f" · subdir {source['subdir']}" if source.get("subdir") else "")
    return json.dumps(source)


def describe_version(version: JobVersion, count: int) -> RenderableType:
    """The selected job's heading and its latest version's source and entrypoint."""
    heading = Text.assemble(
        (version.ref, "bold"),
        f"  {version.type} · {count} version{'s' if count != 1 else ''}",
    )
    if version.description:
        heading.append(f"\n{version.description}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold", no_wrap=True)
    facts.add_column()
    facts.add_row("source", Text(describe_source(version)))
    entrypoint = " ".join(version.entrypoint) if version.entrypoint else None
    if entrypoint is None:
        default = "the image's own" if version.type == "image" else "python main.py"
        facts.add_row("entrypoint", Text(f"({default})", style="dim"))
    else:
        facts.add_row("entrypoint", Text(entrypoint))
    facts.add_row("digest", Text(version.digest[:12]))
    return Group(heading, Text(""), facts)


def titled_table(title: str) -> Table:
    return Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1)
    )


def versions_table(versions: list[JobVersion]) -> RenderableType:
    """Every version, newest first: vN, digest prefix, created ago, aliases."""
    table = titled_table("versions")
    for column in ("version", "digest", "created", "aliases"):
        table.add_column(column, no_wrap=column != "aliases")
    for version in versions:
        table.add_row(
            f"v{version.version}",
            Text(version.digest[:12]),
            ago(version.created_at),
            Text(", ".join(version.aliases) or "-"),
        )
    return table


def schema_rows(schema: dict, prefix: str = "") -> list[tuple[str, dict, bool]]:
    """(dotted name, property schema, required) for each property, nested objects flattened."""
    rows = []
    required = set(schema.get("required") or ())
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        dotted = f"{prefix}{name}"
        rows.append((dotted, prop, name in required))
        if prop.get("properties"):
            rows.extend(schema_rows(prop, f"{dotted}."))
    return rows


def _limits(prop: dict) -> str:
    if "enum" in prop:
        return "one of " + ", ".join(json.dumps(v) for v in prop["enum"])
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        return f"{low} … {high}"
    if low is not None:
        return f"≥ {low}"
    if high is not None:
        return f"≤ {high}"
    return "-"


def schema_table(schema: dict | None) -> RenderableType:
    """The latest version's input schema as a table of its properties."""
    if not schema or not schema.get("properties"):
        return Text.assemble(("input schema", "bold"), ("  none: any config is accepted", "dim"))
    table = titled_table("input schema")
    for column in ("property", "type", "default", "min/max/enum", "description"):
        table.add_column(column, no_wrap=column in ("property", "type"))
    rows = schema_rows(schema)
    for name, prop, required in rows:
        table.add_row(
            Text(name + (" *" if required else "")),
            Text(str(prop.get("type", "any"))),
            Text(json.dumps(prop["default"]) if "default" in prop else "-"),
            Text(_limits(prop)),
            Text(prop.get("description") or prop.get("title") or ""),
        )
    if any(required for _, _, required in rows):
        table.caption = "* required"
        table.caption_justify = "left"
    return table
