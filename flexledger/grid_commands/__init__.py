"""The `flexledger grid` verbs, one module per grid service (see flexledger.grid_cli)."""
