"""What a run wrote: its files as a tree with sizes, the highlighted text file previewed (its
first 64 KiB; a binary file is said to be one). Read again as the run changes, and on `r`."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Header, Static, Tree
from textual.widgets.tree import TreeNode

from ..timefmt import human_size
from ..widgets.agent_bar import AgentBar
from .live import LiveScreen


@dataclass(frozen=True)
class FilesRead:
    files: object  # runners.runfiles.RunFiles
    entries: list  # runners.runfiles.FileEntry, folders before their contents
    truncated: bool


def read_files(store, run_id: str) -> FilesRead:
    from runners.runfiles import files_of, list_run_files

    files = files_of(store, store.runs.get(run_id))
    return FilesRead(files, *list_run_files(files))


def entry_label(name: str, entry) -> Text:
    """`name/  4.0 KiB`, `name  (link…)`: a tree line (Tree takes rich Text), never markup:
    file names are data."""
    if entry.kind == "dir":
        return Text.assemble((name + "/", "bold"), "  ", (human_size(entry.size), "dim"))
    if entry.kind == "link":
        return Text.assemble(name, ("  (link, not followed)", "dim"))
    return Text.assemble(name, "  ", (human_size(entry.size), "dim"))


class RunFilesScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="files.back"),
        # A run writes files without telling the store: read them again on request.
        Binding("r", "refresh", "Refresh", id="files.refresh"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.shown: FilesRead | None = None
        self._files_loader = self.loader("run-files", self._read, self._show, self._failed)
        self._preview_loader = self.loader(
            "run-file-preview", self._read_preview, self._show_preview, self._preview_failed
        )

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="files-panes"):
            yield Tree("files", id="files-tree")
            with VerticalScroll(id="files-preview-scroll"):
                yield Static("", id="files-preview")
        yield Static("loading…", id="files-status", classes="status")
        yield AgentBar()
        yield Footer()

    def on_store_changed(self, message) -> None:
        # A bucket's listing is a cloud call, and nothing in the store says it changed: it is
        # read again on `r` only. A local folder is cheap to walk again.
        if self.shown is not None and self.shown.files.remote is not None:
            return
        super().on_store_changed(message)

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id} · files"
        self.query_one("#files-tree", Tree).focus()
        self.reload()

    def load(self) -> None:
        self._files_loader.start()

    def action_refresh(self) -> None:
        self.reload()

    def _read(self) -> FilesRead:
        return read_files(self.app.stores.get(), self.run_id)

    def _failed(self, error: Exception) -> None:
        line = self.show_load_failed("the run's files", error)
        self.query_one("#files-status", Static).update(Content.styled(line, "red"))

    def _show(self, read: FilesRead) -> None:
        status = self.query_one("#files-status", Static)
        total = sum(e.size for e in read.entries if e.kind != "dir")
        parts = [f"{len(read.entries)} entries, {human_size(total)}"]
        if read.files.where is not None:
            parts.insert(0, read.files.where)
        if read.truncated:
            parts.append("only the first listed")
        if read.files.note:
            parts.append(read.files.note)
        status.update(Content(" · ".join(parts)))
        if self.shown is not None and self.shown.entries == read.entries:
            return  # nothing new: the tree keeps its cursor and what is open
        self.shown = read
        tree = self.query_one("#files-tree", Tree)
        opened = {n.data.path for n in _nodes(tree.root) if n.data and n.is_expanded}
        tree.clear()
        listed = read.files.where or read.files.mounts
        tree.root.set_label(Text(f"run {self.run_id}" if listed else "(no files here)"))
        nodes: dict[str, TreeNode] = {"": tree.root}
        for entry in read.entries:
            parent, _, name = entry.path.rpartition("/")
            under = nodes.get(parent, tree.root)
            if entry.kind == "dir":
                nodes[entry.path] = under.add(entry_label(name, entry), data=entry)
                if entry.path in opened:
                    nodes[entry.path].expand()
            else:
                under.add_leaf(entry_label(name, entry), data=entry)
        tree.root.expand()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        entry = event.node.data
        if entry is None or entry.kind != "file" or self.shown is None:
            text = "" if entry is None else f"{entry.path}: {entry.kind}"
            self.query_one("#files-preview", Static).update(Content(text))
            return
        self._preview_loader.start(self.shown.files, entry.path)

    def _read_preview(self, files, path: str):
        from runners.runfiles import preview_run_file

        return path, preview_run_file(files, path, self.run_id)

    def _show_preview(self, answer) -> None:
        path, shown = answer
        head = f"{path} · {human_size(shown.size)}"
        if shown.text is None:
            body = Content.styled("binary file: not previewed (runs cp copies it out)", "dim")
        else:
            more = f" · first {human_size(len(shown.text.encode()))}" if shown.truncated else ""
            body = Content(shown.text)
            head += more
        self.query_one("#files-preview", Static).update(
            Content.assemble((head, "bold"), "\n\n") + body
        )

    def _preview_failed(self, error: Exception) -> None:
        self.query_one("#files-preview", Static).update(Content.styled(str(error), "red"))


def _nodes(node: TreeNode):
    yield node
    for child in node.children:
        yield from _nodes(child)
