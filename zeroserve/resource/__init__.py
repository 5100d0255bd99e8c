"""InferenceService parsing and validation into frozen dataclasses (the embedded-server issue)."""
