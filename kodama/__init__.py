"""Kodama: AI coding-agent sessions in Kubernetes pods."""

__version__ = "0.1.0"
