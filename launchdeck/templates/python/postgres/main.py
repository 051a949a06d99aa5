"""A web service on a managed PostgreSQL: GET /items lists, POST /items {"name": ...} adds."""

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

DATABASE_URL = os.environ["DATABASE_URL"]
PORT = int(os.environ.get("PORT", "8080"))


def connect() -> psycopg.Connection:
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
            with connect() as db:
                db.execute("SELECT 1")
            self.reply(200, {"status": "OK"})
        elif self.path == "/items":
            with connect() as db:
                rows = db.execute("SELECT id, name FROM items ORDER BY id").fetchall()
            self.reply(200, [{"id": i, "name": n} for i, n in rows])
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/items":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        name = str(json.loads(self.rfile.read(length) or b"{}").get("name", "")).strip()
        if not name:
            self.reply(400, {"error": "name is required"})
            return
        with connect() as db:
            (new_id,) = db.execute("INSERT INTO items (name) VALUES (%s) RETURNING id",
                                   (name,)).fetchone()
        self.reply(201, {"id": new_id, "name": name})


if __name__ == "__main__":
    with connect() as db:
        db.execute("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)")
    print(f"listening on port {PORT}", flush=True)
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
