"""Entry points: the command line, the HTTP server and its background workers, the demo."""
