"""Speech-to-text vendors."""
