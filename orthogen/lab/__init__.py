"""Lab workflow: order files, batches and milling (CNC output checked by a simulated cut)."""
