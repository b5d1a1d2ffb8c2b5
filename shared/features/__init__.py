"""Point-in-time match features: one state machine for the offline table and the online request."""
