"""The docker target: the job runs in a container on a Docker engine."""
