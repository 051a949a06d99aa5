"""One module per user-facing operation, with typed inputs and outputs.

The CLI and the MCP server are thin adapters over these functions; nothing here prints.
"""
