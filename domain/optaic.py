"""OptAIC domain aggregates (being written)."""
