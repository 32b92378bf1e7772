"""HTTP API routes, one module per noun: each turns requests into calls on its service."""
