"""The local-process target: the job runs as a process on this machine."""
