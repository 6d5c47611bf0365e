"""Importers of foreign data into the store ports (today: an mcp-api MongoDB database).

Only ``cli`` imports this package. It uses ``storage.ports``, ``crypto`` and ``domain``; the
foreign database is read through the :class:`~mcp_gateway.migration.source.McpApiSource`
port, implemented under ``storage/mongo`` (only storage talks to MongoDB).
"""
