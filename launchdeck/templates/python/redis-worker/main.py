"""A worker on a managed Redis: POST /jobs queues a task, the worker runs it, GET /jobs/done lists."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

store = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
PORT = int(os.environ.get("PORT", "8080"))


def work() -> None:
    while True:
        try:
            item = store.blpop("jobs", timeout=5)
        except redis.ConnectionError as exc:
            print(f"redis unavailable: {exc}", flush=True)
            time.sleep(2)
            continue
        if item:
            _, task = item
            store.rpush("done", f"{task} processed at {time.time():.0f}")
            print(f"processed {task}", flush=True)


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
            store.ping()
            self.reply(200, {"status": "OK"})
        elif self.path == "/jobs/done":
            self.reply(200, store.lrange("done", 0, -1))
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/jobs":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        task = str(json.loads(self.rfile.read(length) or b"{}").get("task", "")).strip()
        if not task:
            self.reply(400, {"error": "task is required"})
            return
        store.rpush("jobs", task)
        self.reply(202, {"queued": task})


if __name__ == "__main__":
    threading.Thread(target=work, daemon=True).start()
    print(f"listening on port {PORT}", flush=True)
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
