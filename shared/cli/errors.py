class CommandError(Exception):
    """A failure the user can act on; its message is the one line they see."""
