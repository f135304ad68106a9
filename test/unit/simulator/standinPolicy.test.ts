/**
 * The simulator serving a stand-in checkpoint (SIMULATED policy): the profile's per-tool scale
 * visibly lowers mistakes on the trained tool over a few hundred requests against the real server,
 * other tools keep the base rate; the CLI binds --host, lists the served model, marks its answers,
 * refuses a bad profile naming the field, and exits by itself when idle.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { CHECKPOINT_PROFILE_FORMAT, type CheckpointProfile } from "../../../src/llm/simulator/checkpointProfile.js";
import { SIMULATED_POLICY_HEADER, STANDIN_SYSTEM_FINGERPRINT, startSimulator } from "../../../src/llm/simulator/server.js";

const MAIN = path.resolve(import.meta.dirname, "../../../src/llm/simulator/main.js");

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather for a city.",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } }, required: ["city", "days"] },
  },
};
const STOCK = {
  type: "function",
  function: {
    name: "get_stock_price",
    description: "Get the latest price of a stock.",
    parameters: { type: "object", properties: { symbol: { type: "string" }, count: { type: "integer" } }, required: ["symbol", "count"] },
  },
};

const PROFILE: CheckpointProfile = {
  simulated: true,
  note: "test profile (stand-in shaped): nothing was trained",
  format: CHECKPOINT_PROFILE_FORMAT,
  steps: 20,
  trainedTools: { get_weather: 160 },
  mistakeRateScale: { get_weather: 0.1 },
  defaultMistakeRateScale: 1,
  meanReward: 0.8,
};

const CITIES = ["Paris", "Lyon", "Oslo", "Lima", "Kyoto", "Cairo", "Quito", "Perth", "Turin", "Porto", "Dakar", "Hanoi"];
const SYMBOLS = ["NVDA", "AAPL", "MSFT", "AMZN", "TSLA", "INTC", "ORCL", "SHOP", "UBER", "PYPL", "ADBE", "CSCO"];

function request(tool: "weather" | "stock", i: number) {
  const content =
    tool === "weather"
      ? `Could you get the current weather for a city with city "${CITIES[i % CITIES.length]}" and days = ${(i % 29) + 1}?`
      : `Get the latest price of a stock with symbol "${SYMBOLS[i % SYMBOLS.length]}" and count = ${(i % 31) + 1}.`;
  return { model: "toolloop-sim", messages: [{ role: "user", content }], tools: [WEATHER, STOCK], tool_choice: "auto" };
}

async function callsOf(url: string, body: unknown): Promise<string> {
  const res = await fetch(`${url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  const j = (await res.json()) as { choices: { message: { tool_calls: { function: { name: string; arguments: string } }[] } }[] };
  return JSON.stringify(j.choices[0]!.message.tool_calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]));
}

const N = 200;

test("a profile that trained get_weather: mistakes on it fall visibly, get_stock_price keeps the base rate", async () => {
  const clean = await startSimulator({ seed: 7, quiet: true, mistakeRate: 0 });
  const base = await startSimulator({ seed: 7, quiet: true, mistakeRate: 0.4 });
  const trained = await startSimulator({
    seed: 7,
    quiet: true,
    mistakeRate: 0.4,
    checkpointProfile: { file: "/ckpt/toolloop_profile.json", profile: PROFILE },
  });
  try {
    const mistakes = { base: { weather: 0, stock: 0 }, trained: { weather: 0, stock: 0 } };
    for (const tool of ["weather", "stock"] as const) {
      // In chunks, so a few hundred requests per server take a moment, not seconds.
      for (let start = 0; start < N; start += 25) {
        const chunk = Array.from({ length: Math.min(25, N - start) }, (_, k) => request(tool, start + k));
        const answers = await Promise.all(chunk.map((body) => Promise.all([callsOf(clean.url, body), callsOf(base.url, body), callsOf(trained.url, body)])));
        for (const [right, b, t] of answers) {
          assert.ok(right.includes(tool === "weather" ? "get_weather" : "get_stock_price"), `the clean answer calls the tool: ${right}`);
          if (b !== right) mistakes.base[tool]++;
          if (t !== right) mistakes.trained[tool]++;
        }
      }
    }
    const rate = (n: number) => n / N;
    console.log(
      `mistake rates over ${N} requests per tool (base 0.4, get_weather scale 0.1): ` +
        `base weather ${rate(mistakes.base.weather).toFixed(3)} stock ${rate(mistakes.base.stock).toFixed(3)}; ` +
        `profiled weather ${rate(mistakes.trained.weather).toFixed(3)} stock ${rate(mistakes.trained.stock).toFixed(3)}`,
    );
    // Base rate 0.4 on both tools without a profile.
    assert.ok(Math.abs(rate(mistakes.base.weather) - 0.4) < 0.1, `base weather ${rate(mistakes.base.weather)}`);
    assert.ok(Math.abs(rate(mistakes.base.stock) - 0.4) < 0.1, `base stock ${rate(mistakes.base.stock)}`);
    // The trained tool: about 0.4 * 0.1, far below the base.
    assert.ok(rate(mistakes.trained.weather) < 0.1, `profiled weather ${rate(mistakes.trained.weather)}`);
    assert.ok(mistakes.trained.weather * 4 < mistakes.base.weather);
    // The untrained tool (scale 1): the very same requests go wrong as without a profile.
    assert.equal(mistakes.trained.stock, mistakes.base.stock);
  } finally {
    await Promise.all([clean.close(), base.close(), trained.close()]);
  }
});

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function runMain(args: string[]): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("CLI: --host, --checkpoint-profile (listed model, marked answers, logs) and --idle-exit-minutes", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-serve-"));
  const file = path.join(dir, "toolloop_profile.json");
  fs.writeFileSync(file, JSON.stringify(PROFILE));
  // 0.02 minutes = 1.2 s without requests.
  const p = runMain([
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--model",
    "camp-iter-1",
    "--mistake-rate",
    "0.3",
    "--checkpoint-profile",
    file,
    "--idle-exit-minutes",
    "0.02",
  ]);
  try {
    const url = await waitFor("the listening line", () => /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(p.output())?.[1]);
    // Printed by a later write than the listening line: the pipe may deliver it in a later chunk.
    await waitFor("the profile lines", () => (/get_weather x0\.1/.test(p.output()) ? true : undefined));
    assert.match(p.output(), /serving camp-iter-1 as the SIMULATED policy of a stand-in checkpoint \(nothing was trained\): profile .*toolloop_profile\.json/);
    assert.match(p.output(), /get_weather x0\.1/);
    const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string; root: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["camp-iter-1"],
    );
    assert.equal(models.data[0]!.root, dir);
    const res = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...request("weather", 1), model: "camp-iter-1" }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get(SIMULATED_POLICY_HEADER) ?? "", /SIMULATED policy/);
    assert.equal(((await res.json()) as { system_fingerprint: string }).system_fingerprint, STANDIN_SYSTEM_FINGERPRINT);
    // Requests keep it alive; then it stops by itself and says why.
    const started = Date.now();
    const code = await Promise.race([p.exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref())]);
    assert.equal(code, 0, p.output());
    assert.ok(Date.now() - started >= 1000, "not before the idle limit");
    assert.match(p.output(), /idle exit: no requests for \d+\.\d+ minutes \(--idle-exit-minutes 0\.02\); stopping \(2 requests received\)/);
  } finally {
    p.child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("CLI: stopped by SIGTERM or SIGINT it closes and exits 143 or 130 (a server stopped from outside did not succeed)", async () => {
  for (const [signal, code] of [
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const) {
    const p = runMain(["--port", "0"]);
    try {
      await waitFor("listening", () => (/listening/.test(p.output()) ? true : undefined));
      p.child.kill(signal);
      assert.equal(await p.exited, code, p.output());
      assert.match(p.output(), new RegExp(`${signal}: stopping`));
    } finally {
      p.child.kill("SIGKILL");
    }
  }
});

test("CLI: a bad profile stops start-up with the file and field named", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-serve-"));
  const file = path.join(dir, "toolloop_profile.json");
  fs.writeFileSync(file, JSON.stringify({ ...PROFILE, mistakeRateScale: { get_weather: 3 } }));
  const p = runMain(["--port", "0", "--checkpoint-profile", file]);
  try {
    assert.equal(await p.exited, 2);
    assert.match(
      p.output(),
      new RegExp(`--checkpoint-profile ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: mistakeRateScale\\.get_weather: expected a number between 0 and 1`),
    );
    assert.doesNotMatch(p.output(), /listening/);
    const bad = runMain(["--port", "0", "--idle-exit-minutes", "-1"]);
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /--idle-exit-minutes must be a number of minutes/);
  } finally {
    p.child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("silent mistakes follow the checkpoint profile too: rarer on the trained tool", async () => {
  const base = await startSimulator({ seed: 5, quiet: true, silentMistakeRate: 0.5 });
  const trained = await startSimulator({
    seed: 5,
    quiet: true,
    silentMistakeRate: 0.5,
    checkpointProfile: { file: "/tmp/standin/toolloop_profile.json", profile: PROFILE },
  });
  const clean = await startSimulator({ seed: 5, quiet: true });
  try {
    const wrong = { base: { weather: 0, stock: 0 }, trained: { weather: 0, stock: 0 } };
    for (let i = 0; i < N; i++) {
      for (const tool of ["weather", "stock"] as const) {
        const truth = await callsOf(clean.url, request(tool, i));
        if ((await callsOf(base.url, request(tool, i))) !== truth) wrong.base[tool]++;
        if ((await callsOf(trained.url, request(tool, i))) !== truth) wrong.trained[tool]++;
      }
    }
    console.log(`silent mistakes in ${N} requests per tool: ${JSON.stringify(wrong)}`);
    assert.ok(wrong.base.weather > N * 0.35 && wrong.base.stock > N * 0.35);
    assert.ok(wrong.trained.weather * 4 < wrong.base.weather);
    assert.equal(wrong.trained.stock, wrong.base.stock);
  } finally {
    await Promise.all([clean.close(), base.close(), trained.close()]);
  }
});

test("CLI: --silent-mistake-rate and --judge-error-rate reach the server and are bounded", async () => {
  const p = runMain(["--port", "0", "--silent-mistake-rate", "1", "--judge-error-rate", "1"]);
  const clean = await startSimulator({ seed: 0, quiet: true });
  try {
    const url = await waitFor("the listening line", () => /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(p.output())?.[1]);
    const body = request("weather", 3);
    const got = JSON.parse(await callsOf(url, body)) as [string, Record<string, unknown>][];
    const truth = JSON.parse(await callsOf(clean.url, body)) as [string, Record<string, unknown>][];
    assert.equal(got[0]![0], truth[0]![0]);
    assert.notDeepEqual(got[0]![1], truth[0]![1], "a silent wrong value at rate 1");
    const label = { content: null, tool_calls: truth.map(([name, args]) => ({ name, arguments: args })) };
    const judge = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "toolloop-sim-judge",
        messages: [
          { role: "system", content: "### task: label-check" },
          { role: "user", content: "```json\n" + JSON.stringify({ tools: [WEATHER, STOCK], messages: body.messages, label }) + "\n```" },
        ],
      }),
    });
    const verdict = JSON.parse(((await judge.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content) as { verdict: string };
    assert.equal(verdict.verdict, "INCORRECT", "a judge that always errs calls the right label incorrect");
  } finally {
    p.child.kill("SIGKILL");
    await clean.close();
  }
  const bad = runMain(["--port", "0", "--judge-error-rate", "2"]);
  assert.equal(await bad.exited, 2);
  assert.match(bad.output(), /--judge-error-rate must be a number between 0 and 1/);
});
