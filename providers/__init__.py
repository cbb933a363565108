"""Speech-to-text, language-model and text-to-speech providers behind one base class per kind."""
