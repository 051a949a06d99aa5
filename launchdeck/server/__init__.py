"""The MCP server (app.py), how it is served (serve.py) and how clients are set up (setup.py)."""
