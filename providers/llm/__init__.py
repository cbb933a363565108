"""Language-model vendors."""
