"""Revocation at the identity provider: providers, services, tasks and pages."""
