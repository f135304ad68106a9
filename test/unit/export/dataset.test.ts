import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import { exportDataset, type DatasetManifest, type ExportRow } from "../../../src/export/dataset.js";

const tool: McpTool = {
  name: "get_weather",
  description: "Weather now.",
  inputSchema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function row(i: number): ExportRow {
  const kind = i % 3 === 0 ? "irrelevance" : i % 3 === 1 ? "standard" : "parallel";
  return {
    id: `s_${String(i).padStart(6, "0")}`,
    kind,
    status: i % 5 === 0 ? "pending" : "verified",
    messages: [
      { role: "user", content: `Weather in city ${i} — ünïcode ✓?` },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: `c${i}`, type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: `c${i}` }) } }],
      },
    ],
    tools: [tool],
    metadata: { seed: i },
  };
}

async function* rowsOf(n: number, failAt?: number): AsyncIterable<ExportRow> {
  // Reverse order, so the id hash has to sort to match.
  for (let i = n - 1; i >= 0; i--) {
    if (failAt !== undefined && n - 1 - i === failAt) throw new Error("database went away");
    yield row(i);
  }
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "toolloop-export-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("manifest counts and hashes match the file; lines are OpenAI chat-with-tools rows", async () => {
  const dir = path.join(tmp, "ok", "nested");
  const progress: number[] = [];
  const n = 2500;
  const manifest = await exportDataset({
    rows: rowsOf(n),
    dir,
    baseName: "dataset",
    meta: { campaignId: "c1", iteration: 2 },
    onProgress: (k) => progress.push(k),
  });

  const data = await readFile(path.join(dir, "dataset.jsonl"));
  assert.equal(manifest.format, "openai-chat-tools/v1");
  assert.equal(manifest.file, "dataset.jsonl");
  assert.equal(manifest.sha256, sha256(data));
  assert.equal(manifest.bytes, data.length);
  assert.equal(manifest.rows, n);
  const lines = data.toString("utf8").split("\n");
  assert.equal(lines.pop(), "", "file ends with a newline");
  assert.equal(lines.length, n);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const kinds: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  for (const p of parsed) {
    assert.deepEqual(Object.keys(p), ["id", "kind", "messages", "tools", "metadata"]);
    kinds[p.kind as string] = (kinds[p.kind as string] ?? 0) + 1;
    const status = (p.metadata as { status: string }).status;
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  assert.deepEqual(manifest.countsByKind, kinds);
  assert.deepEqual(manifest.countsByStatus, statuses);
  assert.equal(
    manifest.idsSha256,
    sha256(
      parsed
        .map((p) => p.id as string)
        .sort()
        .join("\n"),
    ),
  );
  assert.deepEqual(manifest.meta, { campaignId: "c1", iteration: 2 });
  assert.ok(!Number.isNaN(Date.parse(manifest.createdAt)));

  const first = parsed[0] as { id: string; tools: unknown; messages: unknown; metadata: unknown };
  const source = row(n - 1);
  assert.equal(first.id, source.id);
  assert.deepEqual(first.tools, [{ type: "function", function: { name: tool.name, description: tool.description, parameters: tool.inputSchema } }]);
  assert.deepEqual(first.messages, source.messages);
  assert.deepEqual(first.metadata, { seed: n - 1, status: source.status });

  const onDisk = JSON.parse(await readFile(path.join(dir, "dataset.manifest.json"), "utf8")) as DatasetManifest;
  assert.deepEqual(onDisk, manifest);
  assert.deepEqual(progress, [1000, 2000, 2500]);
  assert.deepEqual((await readdir(dir)).sort(), ["dataset.jsonl", "dataset.manifest.json"]);
});

test("re-running overwrites both files consistently", async () => {
  const dir = path.join(tmp, "rerun");
  await exportDataset({ rows: rowsOf(10), dir, baseName: "dataset" });
  const second = await exportDataset({ rows: rowsOf(3), dir, baseName: "dataset" });
  const data = await readFile(path.join(dir, "dataset.jsonl"));
  assert.equal(second.rows, 3);
  assert.equal(second.sha256, sha256(data));
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, "dataset.manifest.json"), "utf8")), second);
  assert.deepEqual((await readdir(dir)).sort(), ["dataset.jsonl", "dataset.manifest.json"]);
});

test("an empty export is a valid empty file with a manifest", async () => {
  const dir = path.join(tmp, "empty");
  const m = await exportDataset({ rows: rowsOf(0), dir, baseName: "dataset" });
  assert.equal(m.rows, 0);
  assert.equal(m.bytes, 0);
  assert.equal(m.sha256, sha256(""));
  assert.deepEqual(m.countsByKind, {});
  assert.equal(m.idsSha256, sha256(""));
});

test("no final file and no temp file when the row iterator throws midway", async () => {
  const dir = path.join(tmp, "crash");
  await assert.rejects(exportDataset({ rows: rowsOf(5000, 3000), dir, baseName: "dataset" }), /database went away/);
  assert.deepEqual(await readdir(dir), []);
});

test("a failed re-run leaves the previous data in place", async () => {
  const dir = path.join(tmp, "crash-after-success");
  const good = await exportDataset({ rows: rowsOf(4), dir, baseName: "dataset" });
  await assert.rejects(exportDataset({ rows: rowsOf(10, 5), dir, baseName: "dataset" }), /database went away/);
  assert.deepEqual((await readdir(dir)).sort(), ["dataset.jsonl", "dataset.manifest.json"]);
  assert.equal(sha256(await readFile(path.join(dir, "dataset.jsonl"))), good.sha256);
});

test("an aborted signal stops the export and cleans up", async () => {
  const dir = path.join(tmp, "abort");
  const controller = new AbortController();
  async function* slow(): AsyncIterable<ExportRow> {
    for (let i = 0; i < 100; i++) {
      if (i === 10) controller.abort(new Error("cancelled by test"));
      yield row(i);
    }
  }
  await assert.rejects(exportDataset({ rows: slow(), dir, baseName: "dataset", signal: controller.signal }), /cancelled by test/);
  assert.deepEqual(await readdir(dir), []);
});

test("bad rows and bad base names fail with a message naming the problem", async () => {
  const dir = path.join(tmp, "bad");
  async function* bad(): AsyncIterable<ExportRow> {
    yield row(1);
    yield { ...row(2), id: "" };
  }
  await assert.rejects(exportDataset({ rows: bad(), dir, baseName: "dataset" }), { message: "export row 1: id: must be a non-empty string" });
  assert.deepEqual(await readdir(dir), []);
  await assert.rejects(exportDataset({ rows: rowsOf(1), dir, baseName: "../escape" }), {
    message: 'baseName: must be a plain file name without directories (got "../escape")',
  });
});

test("stale temp files from a killed export are swept; fresh ones are left alone", async () => {
  const dir = path.join(tmp, "sweep");
  await exportDataset({ rows: rowsOf(1), dir, baseName: "dataset" });
  const stale = path.join(dir, ".dataset.jsonl.999.abc.tmp");
  const fresh = path.join(dir, ".dataset.jsonl.998.def.tmp");
  await writeFile(stale, "partial");
  await writeFile(fresh, "in progress");
  const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
  await utimes(stale, old, old);
  await exportDataset({ rows: rowsOf(1), dir, baseName: "dataset" });
  assert.deepEqual((await readdir(dir)).sort(), [".dataset.jsonl.998.def.tmp", "dataset.jsonl", "dataset.manifest.json"]);
});
