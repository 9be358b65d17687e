"""The vertex target: the job runs as a GCP Vertex AI CustomJob."""
