"""Synthetic feet with exact ground truth: ``orthogen.synth.model``."""
