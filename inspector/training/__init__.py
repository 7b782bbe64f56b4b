"""Fitting and training models from images; run in its own process when started from the UI."""
