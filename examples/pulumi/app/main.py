"""A small web app: says hello, and whether its API key and database are configured."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            body = b"ok"
        else:
            body = json.dumps({
                "hello": "from launchdeck",
                "api_key_set": bool(os.environ.get("API_KEY")),
                "database": os.environ.get("DATABASE_URL", "").rpartition("@")[2],  # never the password
            }).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
