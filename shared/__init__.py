"""Time2Bet shared library: everything the functions, workflows and operators import."""
