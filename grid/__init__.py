"""grid: see shared/ARCHITECTURE.md; arrives with later issues."""
