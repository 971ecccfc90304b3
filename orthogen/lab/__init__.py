"""Lab workflow: order files and batches."""
