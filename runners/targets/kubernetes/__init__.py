"""The kubernetes target: the job runs as a Kubernetes Job, Volcano, JobSet or Kubeflow object."""
