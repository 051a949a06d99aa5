"""launchdeck deploys Docker Compose projects to AWS, GCP or the local Docker Engine."""

__version__ = "0.1.0"
