"""What runs produce: metric points read from where jobs write them (sources), kept in the
store, read back for charts, summaries and comparisons."""
