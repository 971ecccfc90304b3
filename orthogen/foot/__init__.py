"""The foot: units, alignment, plantar surface, measurements."""
