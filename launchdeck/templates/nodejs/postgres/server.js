// A web service on a managed PostgreSQL: GET /items lists, POST /items {"name": ...} adds.
const http = require("http");
const { Pool } = require("pg");

const PORT = Number(process.env.PORT || 3000);
const pool = new Pool({ connectionString: process.env.DATABASE_URL });

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

async function handle(req, res) {
  if (req.method === "GET" && req.url === "/health") {
    await pool.query("SELECT 1");
    return reply(res, 200, { status: "OK" });
  }
  if (req.method === "GET" && req.url === "/items") {
    const { rows } = await pool.query("SELECT id, name FROM items ORDER BY id");
    return reply(res, 200, rows);
  }
  if (req.method === "POST" && req.url === "/items") {
    let body = "";
    for await (const chunk of req) body += chunk;
    const name = String((body && JSON.parse(body).name) || "").trim();
    if (!name) return reply(res, 400, { error: "name is required" });
    const { rows } = await pool.query("INSERT INTO items (name) VALUES ($1) RETURNING id, name", [name]);
    return reply(res, 201, rows[0]);
  }
  reply(res, 404, { error: "not found" });
}

pool
  .query("CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)")
  .then(() => {
    http
      .createServer((req, res) => handle(req, res).catch((err) => reply(res, 500, { error: err.message })))
      .listen(PORT, () => console.log(`listening on port ${PORT}`));
  });
