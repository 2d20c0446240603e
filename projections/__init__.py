"""Read models derived from the event store, and the generic runner that keeps them."""
