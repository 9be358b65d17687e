"""The launch agent: its loop, its run threads, crash recovery, and what makes it wait or cancel."""
