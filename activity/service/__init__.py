"""Use cases: what services and the HTTP API call to change and read state."""
