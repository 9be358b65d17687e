"""The Jobs screen: the jobs table, the selected job's detail, the new-job form (image, code,
git, bad input) and `L` to launch."""

import io
import json
import threading

from helpers_tui import settle as wait_until
from kit import git, make_code_job
from rich.console import Console
from textual.widgets import DataTable, Input, Select, Static

from runners.catalog.jobs import create_job
from tui.messages import StoreChanged
from tui.screens.job_form import JobFormScreen, JobRequest
from tui.screens.jobs import JobsScreen

SIZE = (120, 36)
SCHEMA = {
    "type": "object",
    "required": ["epochs"],
    "properties": {
        "epochs": {
            "type": "integer",
            "default": 3,
            "minimum": 1,
            "maximum": 1000,
            "description": "Passes over the data",
        },
        "optimizer": {"type": "string", "default": "adam", "enum": ["adam", "sgd"]},
    },
}


def shown(static: Static) -> str:
    """The plain text a Static shows (its Rich tables rendered wide, so nothing wraps)."""
    console = Console(width=200, file=io.StringIO(), record=True, color_system=None)
    console.print(static.content)
    return console.export_text()


def recording_notices(app) -> list[str]:
    notices: list[str] = []
    app.notify = lambda message, **kwargs: notices.append(message)
    return notices


async def open_jobs(pilot, rows: int) -> DataTable:
    await pilot.press("3")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, JobsScreen), "the Jobs screen")
    table = pilot.app.screen.query_one("#jobs-table", DataTable)
    await wait_until(pilot, lambda: table.row_count == rows, f"{rows} jobs in the table")
    return table


async def open_form(pilot) -> JobFormScreen:
    await pilot.press("n")
    # Pushed is not yet mounted: its on_mount sets the kind's labels and the focus.
    return await wait_until(
        pilot,
        lambda: isinstance(form := pilot.app.screen, JobFormScreen) and form.is_mounted and form,
        "the job form",
    )


def fill(form: JobFormScreen, kind: str = "image", **fields: str) -> None:
    """Choose `kind` and set the form's inputs: these fields, every other one blank."""
    form.query_one("#job-kind", Select).value = kind
    for box in form.query(Input):
        box.value = ""
    for field, value in fields.items():
        form.query_one(f"#job-{field}", Input).value = value


async def save_and_wait_closed(pilot) -> None:
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, JobsScreen), "the form to close")


# -- the table and the detail pane ------------------------------------------------------------


async def test_jobs_are_listed_with_latest_version_count_aliases_and_description(
    make_app, store, tmp_path
):
    create_job(
        store, "image", "serve", "python:3.11", aliases=("prod",), description="Serves the model"
    )
    make_code_job(store, tmp_path / "one", "train", "print(1)\n")
    make_code_job(store, tmp_path / "two", "train", "print(2)\n")

    async with make_app().run_test(size=SIZE) as pilot:
        table = await open_jobs(pilot, rows=2)

        assert table.get_row("serve") == ["serve", "v0", "image", "1", "prod", "Serves the model"]
        assert table.get_row("train") == ["train", "v1", "code", "2", "-", "-"]
        screen = pilot.app.screen
        assert "2 jobs" in shown(screen.query_one("#jobs-status", Static))
        assert screen.selected_name == "serve"

        screen.post_message(JobsScreen.Select("train"))  # as `:jobs NAME` would
        await wait_until(pilot, lambda: screen.selected_name == "train", "the cursor on train")


async def test_selecting_a_job_shows_its_versions_source_and_input_schema(
    make_app, store, tmp_path
):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    make_code_job(store, tmp_path, "alpha", "print('a')\n")
    beta = make_code_job(
        store, tmp_path, "beta", "print('b')\n", schema_path=str(schema_file), aliases=("best",)
    )

    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=2)
        screen = pilot.app.screen
        summary = screen.query_one("#job-summary", Static)
        await wait_until(pilot, lambda: "alpha:v0" in shown(summary), "alpha's detail")
        assert "input schema  none" in shown(screen.query_one("#job-schema", Static))

        await pilot.press("down")
        await wait_until(pilot, lambda: "beta:v0" in shown(summary), "beta's detail")

        assert f"snapshot {beta.source['artifact'][:12]} · 1 file" in shown(summary)
        versions = shown(screen.query_one("#job-versions", Static))
        rows = [line.split() for line in versions.splitlines()]
        assert ["v0", beta.digest[:12]] in [row[:2] for row in rows]
        assert "latest, best" in versions
        schema = shown(screen.query_one("#job-schema", Static))
        lines = {line.split()[0]: line for line in schema.splitlines() if line.strip()}
        assert lines["epochs"].split()[:5] == ["epochs", "*", "integer", "3", "1"]
        assert "1 … 1000" in lines["epochs"] and "Passes over the data" in lines["epochs"]
        assert '"adam"' in lines["optimizer"] and 'one of "adam", "sgd"' in lines["optimizer"]
        assert "* required" in schema


# -- the new-job form ---------------------------------------------------------------------------


async def test_new_image_job_is_created_from_the_form(make_app, store):
    async with make_app().run_test(size=SIZE) as pilot:
        notices = recording_notices(pilot.app)
        table = await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        fill(
            form,
            "image",
            target="python:3.11",
            entrypoint="python -m http.server 8000",
            aliases="prod, stable",
            description="A web server",
        )
        await pilot.press("tab", *"serve")  # from the kind selector to the name, typed
        await save_and_wait_closed(pilot)
        await wait_until(pilot, lambda: table.row_count == 1, "the new job in the table")

        version = store.jobs.resolve("serve")
        assert (version.version, version.type) == (0, "image")
        assert version.source == {"image": "python:3.11"}
        assert version.entrypoint == ["python", "-m", "http.server", "8000"]
        assert version.aliases == ("latest", "prod", "stable")
        assert version.description == "A web server"
        assert notices == ["created serve:v0"]
        assert pilot.app.screen.selected_name == "serve"

        form = await open_form(pilot)
        fill(form, name="serve", target="python:3.11", entrypoint="python -m http.server 8000")
        await save_and_wait_closed(pilot)
        assert notices[-1] == "same content as serve:v0; no new version"
        assert len(store.jobs.versions("serve")) == 1


async def test_new_code_job_snapshots_the_directory(make_app, store, tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    (folder / "requirements.txt").write_text("numpy\n")

    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        fill(form, "code", name="train", target=str(folder))
        await save_and_wait_closed(pilot)

        version = store.jobs.resolve("train")
        assert version.type == "code"
        assert version.source["files"] == 2 and version.source["requirements"] is True
        assert store.artifacts.exists(version.source["artifact"])


async def test_new_git_job_pins_the_commit_its_ref_names(make_app, store, tmp_path):
    repo = tmp_path / "origin"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "main.py").write_text("print('one')\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "sub" / "main.py").write_text("print('two')\n")
    git(repo, "commit", "-q", "-am", "two")
    git(repo, "checkout", "-q", "main")

    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        ref_input = form.query_one("#job-ref", Input)
        assert not ref_input.parent.display  # git-only fields hide for an image job
        fill(form, "git", name="from-git", target=repo.as_uri(), ref="feature", subdir="sub")
        await wait_until(
            pilot,
            lambda: ref_input.parent.display and form.query_one("#job-subdir").parent.display,
            "the git-only fields shown",
        )
        await save_and_wait_closed(pilot)

        version = store.jobs.resolve("from-git")
        assert version.type == "git"
        assert version.source == {
            "url": repo.as_uri(),
            "commit": git(repo, "rev-parse", "feature"),
            "subdir": "sub",
        }
        assert version.source["commit"] != git(repo, "rev-parse", "main")


BAD_INPUTS = [
    # (kind, fields, the field marked, how the error line starts)
    ("code", {"target": "{tmp}/gone"}, "target", "directory: {tmp}/gone does not exist"),
    ("code", {"target": ""}, "target", "directory: is empty; expected a local directory"),
    ("image", {"target": "not an image"}, "target", "image: 'not an image'; expected"),
    ("git", {"target": "nowhere"}, "target", "git URL: 'nowhere' is not a git URL"),
    ("image", {"target": "python:3.11", "aliases": "ok, latest"}, "aliases", "aliases: 'latest'"),
    ("image", {"target": "python:3.11", "schema": "no.json"}, "schema", "schema file: no.json"),
    ("image", {"target": "python:3.11", "entrypoint": "'open"}, "entrypoint", "entrypoint: "),
]


async def test_bad_input_is_one_line_under_the_form_naming_the_field_and_creates_nothing(
    make_app, store, tmp_path
):
    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        error = form.query_one("#job-form-error", Static)
        for kind, fields, field, expected in BAD_INPUTS:
            expected = expected.format(tmp=tmp_path)
            fill(form, kind, name="ghost", **{k: v.format(tmp=tmp_path) for k, v in fields.items()})
            await pilot.press("ctrl+s")
            await wait_until(
                pilot, lambda expected=expected: shown(error).startswith(expected), expected
            )

            assert error.has_class("-shown") and len(shown(error).strip().splitlines()) == 1
            assert [w.id for w in form.query(".-invalid")] == [f"job-{field}"]
            assert pilot.app.screen is form and not form.creating
        assert store.jobs.list_latest() == []

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, JobsScreen), "the Jobs screen")
        assert store.jobs.list_latest() == []


async def test_a_failure_that_is_not_bad_input_is_shown_in_the_form(make_app, store, monkeypatch):
    def broken(request, store):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(JobRequest, "create", broken)
    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        fill(form, name="serve", target="python:3.11")
        await pilot.press("ctrl+s")
        error = form.query_one("#job-form-error", Static)
        await wait_until(pilot, lambda: "disk on fire" in shown(error), "the failure shown")

        assert shown(error).startswith("could not create the job: RuntimeError: disk on fire")
        assert pilot.app.screen is form and not form.creating


async def test_closing_the_form_while_creating_still_reports_the_outcome(
    make_app, store, monkeypatch
):
    gate = threading.Event()
    real_create = JobRequest.create

    def held(request, store):
        gate.wait(30)  # stands in for a slow git remote or a big directory
        return real_create(request, store)

    monkeypatch.setattr(JobRequest, "create", held)
    async with make_app().run_test(size=SIZE) as pilot:
        notices = recording_notices(pilot.app)
        table = await open_jobs(pilot, rows=0)
        form = await open_form(pilot)
        fill(form, name="serve", target="python:3.11")
        try:
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: form.has_class("-creating"), "the form busy")
            assert form.query_one("#job-form-fields").disabled

            await pilot.press("escape")
            await wait_until(
                pilot, lambda: isinstance(pilot.app.screen, JobsScreen), "the form closed"
            )
        finally:
            gate.set()
        await wait_until(pilot, lambda: "created serve:v0" in notices, "the outcome notified")
        assert store.jobs.resolve("serve").source == {"image": "python:3.11"}
        pilot.app.screen.post_message(StoreChanged())  # what the store watcher would post
        await wait_until(pilot, lambda: table.row_count == 1, "the new job listed")


# -- launching ---------------------------------------------------------------------------------


async def test_launch_key_opens_the_launch_form_for_the_selected_job(make_app, store):
    create_job(store, "image", "serve", "python:3.11")

    async with make_app().run_test(size=SIZE) as pilot:
        await open_jobs(pilot, rows=1)
        await pilot.press("L")
        await wait_until(
            pilot, lambda: type(pilot.app.screen).__name__ == "LaunchScreen", "the launch form"
        )


async def test_launch_key_with_no_jobs_says_so_and_stays(make_app):
    async with make_app().run_test(size=SIZE) as pilot:
        notices = recording_notices(pilot.app)
        await open_jobs(pilot, rows=0)
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(pilot.app.screen, JobsScreen)
        assert notices == ["no job selected: press n to create one"]
