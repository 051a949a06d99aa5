"""Deployment targets behind one protocol (base.py): local Docker Engine, AWS, GCP."""
