"""What a sagemaker queue's `target:` block says, checked without importing boto3."""

# The keys a queue config's target: block takes, and their help (read by the CLI and the
# queue editor).
# Each block names the model that checks it: its fields are the keys and their docstrings the
# help, read from this file's source without importing it (runners.registry.declared_keys).
# (SageMakerTarget is still in runner.py here; once it moves to this file, name it alone.)
CONFIG_MODELS = {"target": "runner.SageMakerTarget"}
