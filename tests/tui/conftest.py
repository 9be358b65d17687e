"""Fixtures for the app's tests: a private store, a pinned clock, an app that runs headless."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/kit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # fixed_data, helpers_tui

from fixed_data import FIXED_NOW  # noqa: E402  (every "ago" in the app is measured from it)

from tui import clock  # noqa: E402
from tui.config import UserConfig  # noqa: E402

SIZE = (120, 36)


@pytest.fixture(autouse=True)
def pinned_clock():
    clock.pin(FIXED_NOW)
    yield
    clock.pin(None)


@pytest.fixture
def make_app(db_path):
    """make_app(**kwargs) → a LaunchbayApp on the test's store (no agent, no sample offer
    unless asked)."""
    from tui.app import LaunchbayApp

    def make(**kwargs):
        kwargs.setdefault("run_agent", False)
        kwargs.setdefault("offer_sample", False)
        # The form's tests end where the form was opened (after_launch: back); the default,
        # on to the new run, is tested on its own (test_launch_form.py).
        kwargs.setdefault("config", UserConfig(after_launch="back"))
        return LaunchbayApp(db_path, **kwargs)

    return make
