"""`flexledger grid` verbs of this service (filled in by its service module)."""
