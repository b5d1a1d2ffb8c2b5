"""HTTP functions: the app factory, their declared metadata, and the local one-port server."""
