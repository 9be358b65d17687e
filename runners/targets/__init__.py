"""One package per target resource: its runner and what only that target needs."""
