// A chat service on a managed LLM: POST /chat {"message": ...} answers {"reply": ...}.
const http = require("http");

const PORT = Number(process.env.PORT || 3000);
const LLM_URL = (process.env.LLM_URL || "http://llm/api/v1").replace(/\/$/, "");
const LLM_MODEL = process.env.LLM_MODEL || "default";

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

async function ask(message) {
  const response = await fetch(`${LLM_URL}/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model: LLM_MODEL, messages: [{ role: "user", content: message }] }),
  });
  if (!response.ok) throw new Error(`LLM answered ${response.status}`);
  return (await response.json()).choices[0].message.content;
}

async function handle(req, res) {
  if (req.method === "GET" && req.url === "/health") return reply(res, 200, { status: "OK" });
  if (req.method !== "POST" || req.url !== "/chat") return reply(res, 404, { error: "not found" });
  let body = "";
  for await (const chunk of req) body += chunk;
  const message = String((body && JSON.parse(body).message) || "").trim();
  if (!message) return reply(res, 400, { error: "message is required" });
  try {
    reply(res, 200, { reply: await ask(message) });
  } catch (err) {
    reply(res, 502, { error: `the LLM did not answer: ${err.message}` });
  }
}

http
  .createServer((req, res) => handle(req, res).catch((err) => reply(res, 500, { error: err.message })))
  .listen(PORT, () => console.log(`listening on port ${PORT}`));
