// A worker on a managed Redis: POST /jobs {"task": ...} queues, the worker processes, GET /jobs/done lists.
const http = require("http");
const { createClient } = require("redis");

const PORT = Number(process.env.PORT || 3000);
const store = createClient({ url: process.env.REDIS_URL });
const worker = store.duplicate();

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

async function work() {
  for (;;) {
    const item = await worker.blPop("jobs", 5);
    if (item) {
      await store.rPush("done", `${item.element} processed at ${Date.now()}`);
      console.log(`processed ${item.element}`);
    }
  }
}

async function handle(req, res) {
  if (req.method === "GET" && req.url === "/health") {
    await store.ping();
    return reply(res, 200, { status: "OK" });
  }
  if (req.method === "GET" && req.url === "/jobs/done") return reply(res, 200, await store.lRange("done", 0, -1));
  if (req.method === "POST" && req.url === "/jobs") {
    let body = "";
    for await (const chunk of req) body += chunk;
    const task = String((body && JSON.parse(body).task) || "").trim();
    if (!task) return reply(res, 400, { error: "task is required" });
    await store.rPush("jobs", task);
    return reply(res, 202, { queued: task });
  }
  reply(res, 404, { error: "not found" });
}

Promise.all([store.connect(), worker.connect()]).then(() => {
  work().catch((err) => console.error(`worker stopped: ${err.message}`));
  http
    .createServer((req, res) => handle(req, res).catch((err) => reply(res, 500, { error: err.message })))
    .listen(PORT, () => console.log(`listening on port ${PORT}`));
});
