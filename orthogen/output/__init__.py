"""Writers, previews and reports."""
