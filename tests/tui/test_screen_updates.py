"""Screens keep up with the store: a failed read is shown, a screen you come back to is read
again, a screen under a modal still follows the store (issue 11 points 24 and 26)."""

import sqlite3

from helpers_tui import screen_text, settle

from store.jobs import JobStore


async def test_a_jobs_list_that_cannot_be_read_says_why(make_app, monkeypatch):
    def broken(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(JobStore, "list_latest", broken)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await settle(pilot, lambda: "disk I/O error" in screen_text(app), "the failure shown")
        assert "loading…" not in screen_text(app)
