"""SQL migration files, applied by store.migrate."""
