/**
 * One layer of the worker's LLM path, run alone in a process of its own so that its CPU is counted
 * alone (forked by bench/synthesisLayers.ts, which compares the layers with the plain keep-alive
 * client of bench/plainHttpClient.ts on the same simulator and bodies):
 *
 *   llmClient         toolloop's LlmClient replaying the recorded request bodies (retry loop,
 *                     endpoint limiter, deadlines, metrics, response checks), no synthesis
 *   synthesis         single-turn synthesis as a stage batch runs it (tool selection, prompts, the
 *                     two generator requests, sample ids), no database, no Temporal
 *   synthesisLoaded   the same, in a process that has first imported the worker's modules
 *                     (workers/createWorkers.js and through it the activities and the Temporal SDK;
 *                     nothing of them is run)
 *
 *   argv[2]: JSON { layer, url, bodiesFile?, concurrency, requests, warmUpShare, seed? }
 *   -> { type: "done", requests, failures, cpuMs, wallMs, steady: { requests, cpuMs } } (the same shape
 *      as bench/plainHttpClient.ts; steady: the requests after the first warmUpShare of them)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

type Layer = "llmClient" | "synthesis" | "synthesisLoaded";
const { layer, url, bodiesFile, concurrency, requests, warmUpShare, seed } = JSON.parse(process.argv[2] ?? "{}") as {
  layer: Layer;
  url: string;
  bodiesFile?: string;
  concurrency: number;
  requests: number;
  warmUpShare: number;
  seed?: number;
};
const here = path.dirname(fileURLToPath(import.meta.url));
if (layer === "synthesisLoaded") await import(pathToFileURL(path.resolve(here, "../workers/createWorkers.js")).href);
const { LlmClient } = await import("../src/llm/client.js");
const { forEachConcurrently } = await import("../src/util/concurrently.js");

const client = new LlmClient({
  baseUrl: url,
  model: "toolloop-sim",
  role: "generator",
  timeoutMs: 60_000,
  maxRetries: 3,
  maxConcurrency: concurrency,
  endpointName: "sim",
});
// One signal for the whole run, as a batch has one for all its requests.
const batch = new AbortController();
let completed = 0;
let failures = 0;
const warmUpAt = Math.ceil(requests * warmUpShare);
let warm: NodeJS.CpuUsage | undefined;
const settled = (n: number): void => {
  for (let i = 0; i < n; i++) if (++completed === warmUpAt) warm = process.cpuUsage();
};

const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (layer === "llmClient") {
  if (!bodiesFile) throw new Error("the llmClient layer needs bodiesFile");
  const bodies = fs
    .readFileSync(bodiesFile, "utf8")
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        // The recorded body as sent: messages as they are, every other field (tools, tool_choice,
        // response_format, ...) through extraBody; the client adds the model.
        const { messages, model: _model, ...rest } = bodies[next++ % bodies.length]!;
        try {
          await client.chat({ messages: messages as never, extraBody: rest }, { signal: batch.signal });
        } catch {
          failures++;
        }
        settled(1);
      }
    }),
  );
} else {
  const { loadToolSource } = await import("../src/tools/library.js");
  const { ToolSelector, planSingleTurnKinds, synthesizeSingleTurn } = await import("../src/synthesis/singleTurn.js");
  const { ToolRenderCache } = await import("../src/synthesis/prompts.js");
  const { ToolJsonCache, sampleId } = await import("../src/util/ids.js");
  const { synthesizeSingleTurnSpec } = await import("../src/stages/synthesize/singleTurn/spec.js");
  // The stage's defaults (mix, tools per sample, parallel calls), as a campaign without overrides runs it.
  const samples = Math.ceil(requests / 2);
  const stage = synthesizeSingleTurnSpec.schema.parse({ name: "synthesize.singleTurn", count: samples });
  const library = (await loadToolSource({ kind: "example" }, ".")).tools.map((t) => t.tool);
  const kinds = planSingleTurnKinds({ count: samples, mix: stage.mix, seed: seed ?? 1, iteration: 1 });
  const selector = new ToolSelector(library, { seed: seed ?? 1, iteration: 1, toolsPerSample: stage.toolsPerSample, maxParallelCalls: stage.maxParallelCalls });
  const toolRender = new ToolRenderCache();
  const toolJson = new ToolJsonCache();
  const slots = Array.from({ length: samples }, (_, i) => i);
  await forEachConcurrently(slots, concurrency, async (slot) => {
    const kind = kinds[slot]!;
    const { targets, offered } = selector.select(kind, slot);
    try {
      const s = await synthesizeSingleTurn({ kind, targets, offered, generator: client, signal: batch.signal, toolRender });
      sampleId("bench", { messages: s.messages, tools: s.tools }, toolJson);
    } catch {
      failures++;
    }
    // Two generator requests a sample (a failed one may have made fewer; counted as two all the same).
    settled(2);
  });
}
const cpu = process.cpuUsage(cpu0);
const steady = process.cpuUsage(warm);
process.send?.({
  type: "done",
  requests: completed,
  failures,
  cpuMs: (cpu.user + cpu.system) / 1000,
  wallMs: performance.now() - t0,
  steady: { requests: completed - warmUpAt, cpuMs: (steady.user + steady.system) / 1000 },
});
process.disconnect?.();
