"""The ray target: the job runs as a Ray job (Ray Jobs API) on a Ray cluster."""
