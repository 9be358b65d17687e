"""Reading the store off the UI thread, one pattern for every screen.

A `Loader` runs a read on a numbered, exclusive thread worker and posts its outcome to its
owner as a message, `Loaded` or `LoadFailed`. Posting (not `call_from_thread`) because
call_from_thread blocks the worker until the UI has run the callback, and raises once the
app has stopped; a post to a closed screen is simply dropped. An exclusive worker's thread is
only marked cancelled, never stopped, so reads can land out of order: each carries its number,
and `Loader.deliver` drops any but the newest, here and nowhere else.

`LoaderHost` (mixed into a screen or widget) routes the two messages to their loader, and
takes `Answered`, a worker's answer for a read that keeps its own numbers.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.message import Message

T = TypeVar("T")


class LoadOutcome(Message, bubble=False):
    """What a loader's read came to (a subclass says which); delivered only to its owner."""

    def __init__(self, loader: Loader, number: int) -> None:
        super().__init__()
        self.loader = loader
        self.number = number

    def can_replace(self, message: Message) -> bool:
        # Textual asks the message at the head of the queue about the one queued behind it:
        # a burst of reloads is one repaint, so a later read of the same loader takes this
        # one's place (never an older read that happened to land later).
        return (
            isinstance(message, LoadOutcome)
            and message.loader is self.loader
            and message.number >= self.number
        )


class Loaded(LoadOutcome):
    """The read `number` of `loader` returned `value`."""

    def __init__(self, loader: Loader, number: int, value: Any) -> None:
        super().__init__(loader, number)
        self.value = value


class LoadFailed(LoadOutcome):
    """The read `number` of `loader` raised `error`."""

    def __init__(self, loader: Loader, number: int, error: Exception) -> None:
        super().__init__(loader, number)
        self.error = error


Shown = Callable[..., None | Awaitable[None]]


class Loader(Generic[T]):
    """One kind of read a node makes, again and again: `start(*args)` reads on a thread;
    the newest read's value goes to `show(value)`, its error to `failed(error)`."""

    def __init__(
        self,
        owner: DOMNode,
        name: str,
        read: Callable[..., T],
        show: Shown,
        failed: Shown,
    ) -> None:
        """`name` is the worker group (one read of each name at a time); `read` runs on the
        worker thread and must not touch widgets; `show` and `failed` run on the UI thread
        and may be coroutines."""
        self.owner = owner
        self.name = name
        self.read = read
        self.show = show
        self.failed = failed
        self.number = 0
        """The newest read's number: the only one whose outcome is shown."""

    def start(self, *args: Any) -> int:
        """Read again, on a thread; returns the read's number. An older read still running is
        marked cancelled, and its outcome dropped when it lands."""
        self.number += 1
        number = self.number

        def read() -> None:
            try:
                outcome: LoadOutcome = Loaded(self, number, self.read(*args))
            except Exception as exc:  # shown by `failed`; nothing is lost to the worker log
                outcome = LoadFailed(self, number, exc)
            self._post(outcome)

        self.owner.run_worker(
            read, thread=True, exclusive=True, group=f"load-{self.name}", exit_on_error=False
        )
        return number

    def _post(self, outcome: LoadOutcome) -> None:
        # A closed owner answers False, harmlessly; a RuntimeError means the app's event loop
        # is closed: nobody is left to show the outcome either way.
        with contextlib.suppress(RuntimeError):
            self.owner.post_message(outcome)

    def is_newest(self, outcome: LoadOutcome) -> bool:
        return outcome.number == self.number

    async def deliver(self, outcome: LoadOutcome) -> None:
        """Show the outcome of the newest read; drop an older one (a newer read is coming),
        and any once the owner is being taken down (closed, or its widgets removed)."""
        if not self.is_newest(outcome) or torn_down(self.owner):
            return
        try:
            if isinstance(outcome, Loaded):
                shown = self.show(outcome.value)
            else:
                shown = self.failed(outcome.error)
            if inspect.isawaitable(shown):
                await shown
        except NoMatches:
            # A widget it shows the outcome in went away meanwhile: fine if the owner is
            # being taken down (a screen popped, the app quitting), a bug otherwise.
            if not torn_down(self.owner):
                raise


def torn_down(node: DOMNode) -> bool:
    """`node` is closing or being removed: its widgets may already be gone. (Textual says so
    only in private flags: `_pruning` is set on a removed node and all below it at once.)"""
    return node._closing or node._closed or getattr(node, "_pruning", False)


class Answered(Message, bubble=False):
    """A worker thread's answer, for `handle(*args, **kwargs)` to take on the UI thread: what
    a thread posts instead of call_from_thread when it is no loader's read (a write; a read
    with its own rules for staleness, as WindowTable's)."""

    def __init__(self, handle: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.handle, self.args, self.kwargs = handle, args, kwargs


class LoaderHost:
    """Mixed into a screen or widget that owns loaders: hands each outcome to its loader."""

    def loader(self, name: str, read: Callable[..., T], show: Shown, failed: Shown) -> Loader[T]:
        """A loader owned by this node: make it once for a read made again and again (its
        numbers tell the newest read), or per call for a read made once."""
        return Loader(self, name, read, show, failed)  # type: ignore[arg-type]

    async def on_loaded(self, outcome: Loaded) -> None:
        await outcome.loader.deliver(outcome)

    async def on_load_failed(self, outcome: LoadFailed) -> None:
        await outcome.loader.deliver(outcome)

    def on_answered(self, answer: Answered) -> None:
        if not torn_down(self):  # else it is going: nothing to show the answer in
            answer.handle(*answer.args, **answer.kwargs)
