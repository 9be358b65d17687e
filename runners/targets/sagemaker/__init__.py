"""The sagemaker target: the job runs as an AWS SageMaker training job."""
