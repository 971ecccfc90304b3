"""The command line: ``app`` (measure, design, templates) and ``lab`` (batch, validate, init-rx)."""
