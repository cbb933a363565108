"""The Litestar config API: /api/v1 for the UI and API clients, health, metrics, the UI build."""
