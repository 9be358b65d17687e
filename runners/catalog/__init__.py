"""The catalog: jobs, queues, code snapshots, git sources, the sample job and run workspaces."""
