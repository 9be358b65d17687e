"""Render each screen of the app from fixed data into screenshots/ (SVG, and PNG if it can).

    .venv/bin/python scripts/screenshots.py

The data and the clock are the snapshot tests' (tests/tui/fixed_data.py), so the pictures only
change when what a user sees changes. PNGs need cairosvg (and libcairo); without them, only SVGs.
"""

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "tui")]

from fixed_data import COMPARED, FIXED_NOW, seed, seed_comparison, seed_files  # noqa: E402

from store import RunState, Store  # noqa: E402
from tui import clock  # noqa: E402
from tui.app import LaunchbayApp  # noqa: E402
from tui.config import UserConfig  # noqa: E402

OUT = REPO / "screenshots"
SIZE = (120, 36)


async def settle(pilot, condition, tries: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise RuntimeError("the app did not get there")


async def shoot(db: Path) -> list[Path]:
    from helpers_tui import show_file

    from store.run_views import MetricColumn, RunOrder
    from tui.screens.launch import LaunchScreen
    from tui.screens.run_charts import RunChartsScreen
    from tui.screens.run_compare import RunCompareScreen
    from tui.screens.run_files import RunFilesScreen
    from tui.screens.run_log import RunLogScreen

    app = LaunchbayApp(db, run_agent=False, offer_sample=False, config=UserConfig())
    saved = []

    def save(name: str) -> None:
        for widget in app.screen.query("Input"):
            widget.cursor_blink = False
        path = OUT / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total and table.row_at(0) is not None)
        await pilot.pause(0.3)
        save("runs")
        table.cursor = 2
        await pilot.press("enter")
        await settle(pilot, lambda: getattr(app.screen, "run", None) is not None)
        await pilot.pause(0.3)
        save("run-detail")
        await pilot.press("escape")
        app.push_screen(RunFilesScreen("h7wq4nzp"))
        await settle(pilot, lambda: getattr(app.screen, "shown", None) is not None)
        await show_file(pilot, "work/outputs/metrics.json")
        await pilot.pause(0.5)
        save("run-files")
        await pilot.press("escape")
        app.push_screen(RunChartsScreen("h7wq4nzp"))
        await settle(pilot, lambda: len(getattr(app.screen, "charts", [])) == 3)
        await pilot.pause(0.5)
        save("run-charts")
        await pilot.press("escape")
        app.push_screen(RunCompareScreen(list(COMPARED)))
        await settle(pilot, lambda: getattr(app.screen, "comparison", None) is not None)
        await pilot.pause(0.5)
        save("run-compare")
        await pilot.press("escape")
        loss = MetricColumn("loss", "min")
        app.screen.show_columns((loss, MetricColumn("val/accuracy", "last")), RunOrder(loss))
        await pilot.pause(0.5)
        save("runs-metrics")
        app.screen.show_columns((), RunOrder())  # as it was, for the shots that follow
        await pilot.pause(0.3)
        app.push_screen(RunLogScreen("h7wq4nzp"))
        await pilot.pause(0.8)
        save("run-log")
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot, lambda: "gpu-box" in app.export_screenshot())
        await pilot.pause(0.3)
        save("queues")
        await pilot.press("down", "e")  # gpu-box's config, its notifications' secrets hidden
        await settle(pilot, lambda: app.screen.query("TextArea"))
        app.screen.query_one("TextArea").scroll_end(animate=False)  # notify: comes last
        await settle(pilot, lambda: "ntfy://" in app.export_screenshot())
        await pilot.pause(0.3)
        save("queue-notify")
        await pilot.press("escape")
        await pilot.press("3")
        await settle(pilot, lambda: "held-out" in app.export_screenshot())
        await pilot.pause(0.3)
        save("jobs")
        await pilot.press("1")
        app.push_screen(LaunchScreen(relaunch_of="h7wq4nzp"))
        await settle(pilot, lambda: len(app.screen.query("SchemaField")) >= 3)
        await pilot.pause(0.3)
        field = app.screen.query_one("#field-run_config-epochs #value")
        field.value = "20"
        await pilot.pause(0.6)
        save("launch-form")
        await pilot.press("escape", "question_mark")
        await pilot.pause(0.3)
        save("help")
        await pilot.press("escape")
        # Quitting while this app's agent is the only one serving work: it asks first.
        from tui.agent_handover import WorkLeft
        from tui.screens.quit import QuitScreen

        app.push_screen(QuitScreen(str(WorkLeft(live_runs=1, waiting_items=2))))
        await pilot.pause(0.5)
        save("quit-dialog")
    narrow = LaunchbayApp(db, run_agent=False, offer_sample=False, config=UserConfig())
    async with narrow.run_test(size=(80, 24)) as pilot:  # a terminal over SSH, as it comes
        app = narrow
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total and table.row_at(0) is not None)
        await pilot.pause(0.3)
        save("runs-80x24")
        app.push_screen(LaunchScreen(job="train", queue="gpu-box"))
        await settle(pilot, lambda: len(app.screen.query("SchemaField")) >= 3)
        await pilot.pause(0.5)
        save("launch-form-80x24")
    app = LaunchbayApp(db, run_agent=False, offer_sample=False, config=UserConfig())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        table = app.screen.query_one("#runs-table")
        await settle(pilot, lambda: table.total and table.row_at(0) is not None)
        # A run of the store ends while the app is open (whoever ran it): its toast.
        other = Store.open(db)
        other.runs.transition(
            "k3x9mf2a",
            RunState.FAILED,
            "exited with code 1",
            error_stage="run",
            exit_code=1,
            ended_at=FIXED_NOW,  # the pictures' clock, not today's
        )
        other.close()
        await settle(pilot, lambda: app.screen.query("Toast"))
        await pilot.pause(0.5)
        save("run-ended-toast")
    return saved


def notify_on_gpu_box(store: Store) -> None:
    """The queue screen's shot shows a queue's notifications (its URLs' secrets hidden)."""
    from runners.catalog.queues import update_queue

    config = store.queues.get("gpu-box").config
    notify = {"urls": ["ntfy://ntfy.sh/ml-runs", "slack://T0/B0/secret"], "on": ["failed"]}
    update_queue(store, "gpu-box", {**config, "notify": notify})


def write_log(store: Store) -> None:
    log = store.run_dir("h7wq4nzp") / "output.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = ["run h7wq4nzp of train:v0 on queue gpu-box", 'config: {"epochs": 10, "lr": 0.001}']
    lines += [f"epoch {i:>3}/10  loss={2.0 * 0.8**i:.4f}  lr=0.001" for i in range(1, 11)]
    lines += ["saved checkpoint to /scratch/train/h7wq4nzp/model.pt", "done"]
    log.write_text("\n".join(lines) + "\n")


def to_png(paths: list[Path]) -> bool:
    try:
        import cairosvg
    except ImportError:
        return False
    for path in paths:
        cairosvg.svg2png(url=str(path), write_to=str(path.with_suffix(".png")))
    return True


def main() -> None:
    clock.pin(FIXED_NOW)
    OUT.mkdir(exist_ok=True)
    # A fixed folder: the run detail shows the log's path, which must not change between runs.
    folder = Path(tempfile.gettempdir()) / "launchbay-screenshots"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        db = folder / "launchbay.db"
        store = Store.open(db)
        seed(store, folder)
        notify_on_gpu_box(store)
        write_log(store)
        seed_comparison(store)
        seed_files(store)
        store.close()
        saved = asyncio.run(shoot(db))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pngs = to_png(saved)
    for path in saved:
        print(path.relative_to(REPO), "(+ png)" if pngs else "")
    if not pngs:
        print("PNGs skipped: pip install cairosvg (needs libcairo2) to make them too")


if __name__ == "__main__":
    main()
