"""The compose layer: find, read, interpolate, merge and check a project, into typed models."""

from launchdeck.compose.load import Loaded, load
from launchdeck.compose.model import Project, Service
from launchdeck.compose.validate import Finding, Severity, has_errors, required_config, validate

__all__ = ["Finding", "Loaded", "Project", "Service", "Severity", "has_errors", "load",
           "required_config", "validate"]
