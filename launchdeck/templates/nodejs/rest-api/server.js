// A REST API: GET /health and GET|POST /echo, which returns the request's parameters.
const http = require("http");

const PORT = Number(process.env.PORT || 3000);

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  if (req.method === "GET" && url.pathname === "/health") return reply(res, 200, { status: "OK" });
  if (url.pathname !== "/echo") return reply(res, 404, { error: "not found" });
  if (req.method === "GET") {
    return reply(res, 200, { method: "GET", params: Object.fromEntries(url.searchParams) });
  }
  if (req.method !== "POST") return reply(res, 405, { error: "use GET or POST" });
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    try {
      reply(res, 200, { method: "POST", params: body ? JSON.parse(body) : {} });
    } catch {
      reply(res, 400, { error: "body must be JSON" });
    }
  });
});

server.listen(PORT, () => console.log(`listening on port ${PORT}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
