"""Tenant-scoped repositories: every method takes the tenant id and touches only its rows."""
