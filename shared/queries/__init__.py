"""Read-only queries behind the HTTP functions; each returns the pydantic model its function serves."""
