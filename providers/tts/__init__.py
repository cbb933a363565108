"""Text-to-speech vendors."""
