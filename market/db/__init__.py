"""The platform's own tables (off-chain data) and their migrations."""
