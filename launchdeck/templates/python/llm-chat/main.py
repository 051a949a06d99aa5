"""A chat service on a managed LLM: POST /chat {"message": ...} answers {"reply": ...}."""

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LLM_URL = os.environ.get("LLM_URL", "http://llm/api/v1").rstrip("/")
LLM_MODEL = os.environ.get("LLM_MODEL", "default")
PORT = int(os.environ.get("PORT", "8080"))


def ask(message: str) -> str:
    """One turn through the OpenAI-compatible chat completions API of the managed LLM."""
    body = json.dumps({"model": LLM_MODEL,
                       "messages": [{"role": "user", "content": message}]}).encode()
    request = urllib.request.Request(f"{LLM_URL}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["choices"][0]["message"]["content"]


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
            self.reply(200, {"status": "OK"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/chat":
            self.reply(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        message = str(json.loads(self.rfile.read(length) or b"{}").get("message", "")).strip()
        if not message:
            self.reply(400, {"error": "message is required"})
            return
        try:
            self.reply(200, {"reply": ask(message)})
        except OSError as exc:
            self.reply(502, {"error": f"the LLM did not answer: {exc}"})


if __name__ == "__main__":
    print(f"listening on port {PORT}", flush=True)
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
