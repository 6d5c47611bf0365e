"""MongoDB store (pymongo's native async API), used when a MongoDB URI is configured."""

from mcp_gateway.storage.mongo.store import MongoStore

__all__ = ["MongoStore"]
