"""The run log: a run's log file, and the cursor that copies a target's output into it once."""
