"""CPU-bound local models (recognizer, voice, …) in worker processes, off the event loop."""
