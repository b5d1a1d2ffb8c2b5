"""Loaders that bring outside data into the store."""
