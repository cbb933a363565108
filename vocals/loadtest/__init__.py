"""`vocals loadtest`: how many concurrent calls a server carries, and what callers hear.

Kept free of heavy imports: `vocals.loadtest.command` loads the runner only when it runs.
"""
