// BullMQ throughput: fill a queue with N jobs, then time W worker processes draining it. Each job is a
// no-op, or with BENCH_PG_URL set it writes one row to PostgreSQL (as each of our messages is recorded).
// node peer.mjs <redis-url> <queue> <jobs> <workers> <concurrency>
import { fork } from "node:child_process";
import { Queue, Worker } from "bullmq";
import pg from "pg";

const [url, name, jobs, workers, concurrency] = process.argv.slice(2);
const { hostname, port } = new URL(url);
const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null };

const database = process.env.BENCH_PG_URL;

if (process.env.BENCH_ROLE === "worker") {
  const pool = database ? new pg.Pool({ connectionString: database, max: 10 }) : null;
  const work = pool
    ? async (job) => {
        await pool.query("INSERT INTO bullmq_bench (job, done_at) VALUES ($1, now())", [job.data.i]);
      }
    : async () => {};
  new Worker(name, work, { connection, concurrency: Number(concurrency) });
} else {
  if (database) {
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    await client.query("DROP TABLE IF EXISTS bullmq_bench");
    await client.query("CREATE TABLE bullmq_bench (job integer, done_at timestamptz)");
    await client.end();
  }
  const queue = new Queue(name, { connection });
  await queue.obliterate({ force: true });
  for (let i = 0; i < Number(jobs); i += 1000) {
    const size = Math.min(1000, Number(jobs) - i);
    const batch = Array.from({ length: size }, (_, k) => ({
      name: "noop",
      data: { i: i + k },
      opts: { removeOnComplete: true },
    }));
    await queue.addBulk(batch);
  }
  const children = Array.from({ length: Number(workers) }, () =>
    fork(process.argv[1], process.argv.slice(2), { env: { ...process.env, BENCH_ROLE: "worker" } }),
  );
  const left = async () => {
    const c = await queue.getJobCounts("wait", "active", "prioritized", "delayed");
    return c.wait + c.active + c.prioritized + c.delayed;
  };
  while ((await left()) === Number(jobs)) await new Promise((r) => setTimeout(r, 2));
  const started = process.hrtime.bigint();
  while ((await left()) > 0) await new Promise((r) => setTimeout(r, 10));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ jobs: Number(jobs), seconds, perSecond: Number(jobs) / seconds }));
  children.forEach((c) => c.kill());
  await queue.obliterate({ force: true });
  await queue.close();
  process.exit(0);
}
