"""Request and response models (mcp-api's camelCase on the wire). They drive both validation
and ``GET /openapi.json``."""
