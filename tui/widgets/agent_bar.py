"""The agent's line at the bottom of every screen: idle/running N of max, queues, last error."""

from functools import partial

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class AgentBar(Static):
    DEFAULT_CSS = """
    AgentBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    AgentBar.-error { color: $error; }
    """

    live_runs = reactive(0)
    max_jobs = reactive(1)
    queues = reactive("all queues")
    state = reactive("off")  # off | idle | running | stopped
    last_error = reactive("")
    others = reactive("")  # other live agents on the store: `pid 4121 (all queues)`

    # The app's reactive → this bar's, so every screen's bar follows the one agent.
    _FOLLOWS = {
        "agent_state": "state",
        "agent_live": "live_runs",
        "agent_max": "max_jobs",
        "agent_queues": "queues",
        "agent_error": "last_error",
        "agent_others": "others",
    }

    def on_mount(self) -> None:
        for app_attribute, own in self._FOLLOWS.items():
            if hasattr(self.app, app_attribute):
                self.watch(self.app, app_attribute, partial(setattr, self, own))

    def render(self) -> Text:
        if self.state == "off":
            text = "agent: not running here (launchbay --no-agent); another process may serve"
        else:
            activity = "idle" if self.live_runs == 0 else f"running {self.live_runs}"
            if self.max_jobs == -1:  # said, so that nobody wonders why runs go on starting
                activity += " (no limit but each queue's)"
            else:
                activity += f" of at most {self.max_jobs}"
            text = f"agent: {activity} · serving {self.queues}"
        if self.others:
            text += f" · other agents: {self.others}"
        if self.last_error:
            text += f" · last error: {self.last_error}"
        return Text(text)  # queue names and errors as they are, never markup

    def watch_last_error(self, error: str) -> None:
        self.set_class(bool(error), "-error")
