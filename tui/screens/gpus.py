"""The GPUs screen: each device the agent hands out, live: utilisation and memory with a short
history, the run holding it (enter opens the run), and processes launchbay did not start.

NVML's readings change without the store changing, so besides the store's change signal the
screen reads again every REFRESH_SECONDS while it shows.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ..widgets.agent_bar import AgentBar
from .live import LiveScreen, shown_screens

REFRESH_SECONDS = 2.0
HISTORY = 24  # samples of utilisation shown per device (48 s at the refresh rate)
BAR_WIDTH = 12
SPARKS = "▁▂▃▄▅▆▇█"
GPU_COLUMNS = ("gpu", "name", "util", "history", "memory", "run", "outside launchbay")


@dataclass(frozen=True)
class GpusRead:
    source: str
    note: str | None
    devices: list  # runners.gpus.overview.DeviceNow


def bar(fraction: float | None, width: int = BAR_WIDTH) -> Text:
    """A horizontal bar, green to red as it fills; empty when the value is unknown."""
    if fraction is None:
        return Text("·" * width, style="dim")
    filled = round(max(0.0, min(1.0, fraction)) * width)
    style = "green" if fraction < 0.6 else "yellow" if fraction < 0.9 else "red"
    return Text("█" * filled, style=style) + Text("░" * (width - filled), style="dim")


def sparkline(values: list[int | None]) -> Text:
    """Utilisation over the last samples, oldest first, one cell each."""
    cells = [
        " " if v is None else SPARKS[min(len(SPARKS) - 1, v * len(SPARKS) // 101)] for v in values
    ]
    return Text("".join(cells).rjust(HISTORY), style="cyan")


class GpusScreen(LiveScreen):
    BINDINGS = [Binding("enter", "open_run", "Open run", id="gpus.open_run")]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.history: dict[str, deque] = defaultdict(lambda: deque(maxlen=HISTORY))
        self.read_now: GpusRead | None = None
        self._gpus_loader = self.loader("gpus", self._read, self._show, self._failed)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DataTable(id="gpus-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="gpus-status", classes="status")
        yield AgentBar()
        yield Footer()

    @property
    def table(self) -> DataTable:
        return self.query_one("#gpus-table", DataTable)

    def on_mount(self) -> None:
        self.sub_title = "GPUs"
        self.table.add_columns(*GPU_COLUMNS)
        self.table.focus()
        self.set_interval(REFRESH_SECONDS, self._tick)
        self.reload()

    def _tick(self) -> None:
        if self in shown_screens(self.app):
            self.reload()

    def load(self) -> None:
        self._gpus_loader.start()

    def _read(self) -> GpusRead:
        from runners.gpus.overview import devices_now
        from runners.gpus.settings import load_gpu_settings

        inventory, devices = devices_now(self.app.stores.get(), load_gpu_settings())
        return GpusRead(inventory.source, inventory.note, devices)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the GPUs", error)
        self.query_one("#gpus-status", Static).update(Text(line, style="red"))

    def _show(self, read: GpusRead) -> None:
        self.read_now = read
        table = self.table
        keys = [device.gpu.key for device in read.devices]
        if keys != [row.key.value for row in table.ordered_rows]:
            table.clear()
            for key in keys:
                table.add_row(*([""] * len(GPU_COLUMNS)), key=key)
        for device in read.devices:
            self.history[device.gpu.key].append(device.gpu.utilization_percent)
            for column, value in zip(table.columns, self._cells(device), strict=True):
                table.update_cell(device.gpu.key, column, value, update_width=True)
        status = self.query_one("#gpus-status", Static)
        held = sum(1 for device in read.devices if device.run_id)
        where = "declared in the config file" if read.source == "config" else "read through NVML"
        line = f"{len(read.devices)} GPU(s), {held} held by runs · {where}"
        status.update(Text(read.note if read.note and not read.devices else line))

    def _cells(self, device) -> tuple:
        gpu = device.gpu
        util = gpu.utilization_percent
        memory = gpu.memory_used_mib / gpu.memory_total_mib if gpu.memory_total_mib else None
        outside = ", ".join(f"pid {p.pid}" for p in gpu.processes) if not device.run_id else ""
        return (
            str(gpu.index),
            Text(gpu.name),
            bar(None if util is None else util / 100)
            + Text(f" {util if util is not None else '-':>3}%"),
            sparkline(list(self.history[gpu.key])),
            bar(memory) + Text(f" {gpu.memory_used_mib}/{gpu.memory_total_mib} MiB"),
            Text(device.run_id or "-", style="bold" if device.run_id else "dim"),
            Text(outside + (" (busy)" if device.busy_outside else ""), style="yellow"),
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # The table takes enter (select), so its selection is what opens the run.
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        if self.read_now is None or self.table.row_count == 0:
            return
        device = self.read_now.devices[self.table.cursor_row]
        if device.run_id is None:
            self.notify(f"GPU {device.gpu.index} is free", markup=False)
            return
        from .run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(device.run_id))
