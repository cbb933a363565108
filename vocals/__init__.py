"""The `vocals` command and process wiring: settings, start-up, shutdown, embedded services."""
