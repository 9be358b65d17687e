"""The new-job form (`n` on the Jobs screen): a container image, a local code directory or a
git repository. Dismisses with the CreatedVersion, or None when cancelled.

Creating can take a while (snapshotting a big directory, reaching a git remote), so it runs in
a thread worker while the form shows that it is busy; a BadInput becomes the form's one error
line, naming the field, and nothing is created."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, LoadingIndicator, Select, Static

from store import BadInput, Store
from store.jobs import CreatedVersion

from ..loading import Answered

KINDS = ("image", "code", "git")
KIND_OPTIONS = [
    ("image: a container image", "image"),
    ("code: a local directory, snapshotted now", "code"),
    ("git: a repository, pinned to a commit now", "git"),
]
# kind → (what the target is, what is expected there, what takes the time while creating)
TARGETS = {
    "image": ("image", "an image reference such as python:3.11", ""),
    "code": ("directory", "a local directory of code, e.g. ~/src/train", "snapshotting"),
    "git": ("git URL", "https://…, ssh://…, file://… or user@host:path", "resolving the ref"),
}
LABELS = {
    "kind": "kind",
    "name": "name",
    "ref": "git ref",
    "subdir": "subdir",
    "entrypoint": "entrypoint",
    "aliases": "aliases",
    "description": "description",
    "schema": "schema file",
}
# BadInput.field (named as on the command line) → the form's field.
FIELDS = {
    "NAME": "name",
    "job name": "name",
    "IMAGE": "target",
    "PATH": "target",
    "URL": "target",
    "--ref": "ref",
    "--subdir": "subdir",
    "--entrypoint": "entrypoint",
    "--alias": "aliases",
    "--schema": "schema",
    "job type": "kind",
}


@dataclass(frozen=True)
class JobRequest:
    """What the form asks for: the arguments of runners.catalog.jobs.create_job."""

    kind: str
    name: str
    target: str
    entrypoint: str | None = None
    schema_path: str | None = None
    aliases: tuple[str, ...] = ()
    description: str | None = None
    ref: str | None = None
    subdir: str | None = None

    def create(self, store: Store) -> CreatedVersion:
        from runners.catalog.jobs import create_job

        return create_job(
            store,
            self.kind,
            self.name,
            self.target,
            entrypoint=self.entrypoint,
            schema_path=self.schema_path,
            aliases=self.aliases,
            description=self.description,
            ref=self.ref,
            subdir=self.subdir,
        )


def split_aliases(text: str) -> tuple[str, ...]:
    """'prod, best ,' → ('prod', 'best')."""
    return tuple(alias.strip() for alias in text.split(",") if alias.strip())


def error_line(exc: BadInput, kind: str) -> tuple[str | None, str]:
    """The form field a BadInput is about (None: no single one) and the line the form shows."""
    head, _, rest = exc.field.partition(".")
    field = FIELDS.get(head)
    if field is None:
        return None, str(exc)
    label = TARGETS[kind][0] if field == "target" else LABELS[field]
    if rest:  # a part of the schema file: --schema.properties.lr.type
        label += f" ({rest})"
    return field, f"{label}: {exc.message}"


class JobFormScreen(ModalScreen[CreatedVersion | None]):
    BINDINGS = [
        Binding("ctrl+s", "save", "Create", id="job_form.save"),
        Binding("escape", "cancel", "Cancel", id="job_form.cancel"),
    ]

    kind = reactive("image")
    creating = reactive(False)

    def __init__(self, kind: str = "image") -> None:
        super().__init__()
        self.set_reactive(JobFormScreen.kind, kind if kind in KINDS else "image")
        self._abandoned = False  # cancelled while creating: the result is only notified

    def compose(self) -> ComposeResult:
        with Vertical(id="job-form", classes="dialog"):
            yield Static(
                "[b]New job[/b]: or a new version of one, when its content changed",
                id="job-form-title",
            )
            with Vertical(id="job-form-fields"):
                yield field_row(
                    "kind",
                    Select(
                        KIND_OPTIONS,
                        value=self.kind,
                        allow_blank=False,
                        compact=True,
                        id="job-kind",
                    ),
                )
                yield field_row(
                    "name", text_input("name", "a name: 1-64 of A-Z a-z 0-9 _ . - (e.g. train)")
                )
                yield field_row("target", text_input("target", ""), label_id="job-target-label")
                yield field_row(
                    "git ref",
                    text_input("ref", "branch, tag or commit (default: the remote's HEAD)"),
                    classes="git-only",
                )
                yield field_row(
                    "subdir",
                    text_input("subdir", "run from this directory of the repository"),
                    classes="git-only",
                )
                yield field_row("entrypoint", text_input("entrypoint", ""))
                yield field_row(
                    "aliases", text_input("aliases", "comma-separated, e.g. prod, best")
                )
                yield field_row("description", text_input("description", "what the job does"))
                yield field_row(
                    "schema file", text_input("schema", "optional: a JSON or YAML input schema")
                )
            yield Static(id="job-form-error", markup=False)  # paths and messages, verbatim
            with Horizontal(id="job-form-busy"):
                yield LoadingIndicator()
                yield Static(id="job-form-busy-text", markup=False)
            with Horizontal(id="job-form-buttons"):
                yield Button("Create (ctrl+s)", variant="primary", compact=True, id="job-form-save")
                yield Button("Cancel (esc)", compact=True, id="job-form-cancel")

    def on_mount(self) -> None:
        self.watch_kind(self.kind)
        self.query_one("#job-kind", Select).focus()

    # -- what shows, by kind and by state ----------------------------------------------------

    @on(Select.Changed, "#job-kind")
    def _kind_chosen(self, event: Select.Changed) -> None:
        if event.value in KINDS:
            self.kind = str(event.value)

    def watch_kind(self, kind: str) -> None:
        self.set_class(kind == "git", "-git")
        label, expected, _ = TARGETS[kind]
        self.query_one("#job-target-label", Label).update(label)
        self.query_one("#job-target", Input).placeholder = expected
        self.query_one("#job-entrypoint", Input).placeholder = (
            "a command (default: the image's own)"
            if kind == "image"
            else "a command (default: python main.py)"
        )

    def watch_creating(self, creating: bool) -> None:
        self.set_class(creating, "-creating")
        self.query_one("#job-form-fields").disabled = creating
        self.query_one("#job-form-save", Button).disabled = creating

    def show_error(self, field: str | None, text: str) -> None:
        """One line under the form (empty: none), and the field it is about marked."""
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")
        error = self.query_one("#job-form-error", Static)
        error.update(text)
        error.set_class(bool(text), "-shown")
        if field is not None:
            widget = self.query_one(f"#job-{field}")
            widget.add_class("-invalid")
            widget.focus()

    # -- creating ----------------------------------------------------------------------------

    def request(self) -> JobRequest:
        """The form's values as a JobRequest (blank optional fields: None)."""

        def value(field: str) -> str | None:
            return self.query_one(f"#job-{field}", Input).value.strip() or None

        git = self.kind == "git"
        schema = value("schema")
        return JobRequest(
            kind=self.kind,
            name=value("name") or "",
            target=value("target") or "",
            entrypoint=value("entrypoint"),
            schema_path=schema,  # a relative path: looked for in the code directory first
            aliases=split_aliases(value("aliases") or ""),
            description=value("description"),
            ref=value("ref") if git else None,
            subdir=value("subdir") if git else None,
        )

    def action_save(self) -> None:
        if self.creating:
            return
        request = self.request()
        label, expected, busy = TARGETS[request.kind]
        if not request.target:
            # An empty directory would mean the current one: never snapshot that by accident.
            self.show_error("target", f"{label}: is empty; expected {expected}")
            return
        self.show_error(None, "")
        what = f" ({busy} {request.target})" if busy else ""
        busy_text = Text(f"creating {request.name}…{what}")  # paths as they are
        self.query_one("#job-form-busy-text", Static).update(busy_text)
        self.creating = True
        self.create(request, self.app)

    @work(thread=True, exclusive=True, group="job-create", exit_on_error=False)
    def create(self, request: JobRequest, app: App) -> None:
        # `app` is handed in: once the form is closed, self.app can't be found from this thread.
        try:
            result = request.create(app.stores.get())
        except BadInput as exc:
            app.post_message(Answered(self._failed, request, exc))
        except Exception as exc:
            app.post_message(Answered(self._broke, request, exc))
            raise  # still the worker's error: Textual logs its traceback
        else:
            app.post_message(Answered(self._created, result))

    def _created(self, result: CreatedVersion) -> None:
        ref = result.version.ref
        self.app.notify(
            f"created {ref}" if result.created else f"same content as {ref}; no new version",
            markup=False,
        )
        if not self._abandoned:  # closed: its widgets are gone, the notice is all there is
            self.creating = False
            self.dismiss(result)

    def _failed(self, request: JobRequest, exc: BadInput) -> None:
        field, text = error_line(exc, request.kind)
        if self._abandoned:
            self.app.notify(
                text, title=f"job {request.name} not created", severity="error", markup=False
            )
            return
        self.creating = False
        self.show_error(field, text)

    def _broke(self, request: JobRequest, exc: Exception) -> None:
        # Not a BadInput: a bug or a failure the user can't fix here; shown as it is.
        text = f"could not create the job: {type(exc).__name__}: {exc}"
        if self._abandoned:
            self.app.notify(
                text, title=f"job {request.name} not created", severity="error", markup=False
            )
            return
        self.creating = False
        self.show_error(None, text)

    def action_cancel(self) -> None:
        if self.creating:
            self._abandoned = True
            self.app.notify("still creating in the background; you'll be told how it went")
        self.dismiss(None)

    # -- keys and buttons --------------------------------------------------------------------

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#job-form-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#job-form-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


def text_input(field: str, placeholder: str) -> Input:
    return Input(placeholder=placeholder, compact=True, id=f"job-{field}")


def field_row(label: str, widget: Widget, *, classes: str = "", label_id: str | None = None):
    """A label and its widget on one line."""
    return Horizontal(Label(label, id=label_id), widget, classes=f"field {classes}".strip())
