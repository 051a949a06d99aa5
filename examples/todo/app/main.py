"""A to-do API: GET /todos lists, POST /todos {"title": ...} adds, GET /health checks."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

DATABASE_URL = os.environ["DATABASE_URL"]


def db() -> psycopg.Connection:
    return psycopg.connect(DATABASE_URL, autocommit=True)


class Handler(BaseHTTPRequestHandler):
    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            with db() as conn:
                conn.execute("SELECT 1")
            self.reply(200, {"status": "OK"})
        elif self.path == "/todos":
            with db() as conn:
                rows = conn.execute("SELECT id, title FROM todos ORDER BY id").fetchall()
            self.reply(200, [{"id": i, "title": t} for i, t in rows])
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/todos":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        title = json.loads(self.rfile.read(length) or b"{}").get("title", "").strip()
        if not title:
            self.reply(400, {"error": "title is required"})
            return
        with db() as conn:
            (new_id,) = conn.execute("INSERT INTO todos (title) VALUES (%s) RETURNING id",
                                     (title,)).fetchone()
        self.reply(201, {"id": new_id, "title": title})


if __name__ == "__main__":
    with db() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS todos (id serial PRIMARY KEY, title text)")
    print("listening on :8000", flush=True)
    ThreadingHTTPServer(("", 8000), Handler).serve_forever()
