"""The device: template, corrections, solid, verify, design."""
