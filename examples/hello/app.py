"""A tiny web service: / greets, /health answers {"status": "OK"}."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            body = json.dumps({"status": "OK"}).encode()
            kind = "application/json"
        else:
            body = (os.environ.get("GREETING", "Hello") + "\n").encode()
            kind = "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    print("listening on :8080", flush=True)
    ThreadingHTTPServer(("", 8080), Handler).serve_forever()
