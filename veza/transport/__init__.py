"""The edges: HTTP routes, WebSocket protocol, guards, rate limits, OpenAPI, static client."""
