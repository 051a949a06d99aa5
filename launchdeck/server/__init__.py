"""The MCP server (server.py, its tools by group in tools_*.py), how it is served (serve.py)
and how clients are set up (setup.py)."""
