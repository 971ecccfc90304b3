"""The prescription as data: schema, loading, templates."""
