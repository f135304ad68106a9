/**
 * trainer/sft/toolloop_sft_dataset.py, the dataset class train.sft gives verl's SFT trainer so that
 * only the label turns (weight 1) are trained. verl's dataset module imports torch, which this machine
 * cannot install (no CPU wheel on PyPI), so the class is checked without importing it: against the
 * source of the verl 0.9.1 method it overrides (its base class and signature, read with `ast` from
 * .venv-train), and its weight rule on the messages of a real sft.parquet as pyarrow reads them.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import type { McpTool } from "../../../src/domain/types.js";
import { writeVerlDataset } from "../../../src/training/verl/dataset.js";
import { SFT_DATASET_CLASS } from "../../../src/training/verl/jobSpec.js";
import { REPO_ROOT, runTrainPython } from "../../helpers/trainVenv.js";

const CLASS_FILE = path.join(REPO_ROOT, "trainer/sft/toolloop_sft_dataset.py");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sft-dataset-class-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const CHECK = `
import ast, json, sys, importlib.util, pathlib
cls_file, name, parquet = sys.argv[1], sys.argv[2], sys.argv[3]
ours = ast.parse(pathlib.Path(cls_file).read_text())
spec = importlib.util.find_spec("verl")
base_src = pathlib.Path(spec.submodule_search_locations[0], "utils", "dataset", "multiturn_sft_dataset.py")
theirs = ast.parse(base_src.read_text())
def method(tree, cls, fn):
    c = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return c, next(n for n in c.body if isinstance(n, ast.FunctionDef) and n.name == fn)
def params(f):
    a = f.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
klass, override = method(ours, name, "_process_single_message")
_, base = method(theirs, "MultiTurnSFTDataset", "_process_single_message")
imports = [f"{n.module}.{a.name}" for n in ours.body if isinstance(n, ast.ImportFrom) for a in n.names]
# The weight rule alone, compiled from the file (the module imports verl, and verl torch).
rule = next(n for n in ours.body if isinstance(n, ast.FunctionDef) and n.name == "is_context_only")
scope = {}
exec(compile(ast.Module(body=[n for n in ours.body if isinstance(n, ast.ImportFrom) and n.module in ("__future__", "typing")] + [rule], type_ignores=[]), cls_file, "exec"), scope)
import pyarrow.parquet as pq
rows = pq.read_table(parquet).to_pylist()
print(json.dumps({
  "bases": [ast.unparse(b) for b in klass.bases],
  "imports": imports,
  "override": params(override),
  "base": params(base),
  "baseReturnsLossMask": "loss_mask" in ast.unparse(base),
  "contextOnly": [[m["role"], scope["is_context_only"](m)] for m in rows[0]["messages"]],
}))
`;

test("the SFT dataset class overrides verl 0.9.1's per-message step with its signature, and leaves out exactly the weight-0 turns", async () => {
  const tool: McpTool = { name: "get_weather", description: "Weather now.", inputSchema: { type: "object", properties: { city: { type: "string" } } } };
  const call = (city: string) => ({ id: "c", type: "function" as const, function: { name: "get_weather", arguments: JSON.stringify({ city }) } });
  await writeVerlDataset({
    samples: [
      {
        id: "m1",
        tools: [tool],
        messages: [
          { role: "user", content: "Weather in Oslo?" },
          { role: "assistant", content: null, tool_calls: [call("Oslo")] },
          { role: "tool", tool_call_id: "c", content: '{"temp": 3}' },
          { role: "assistant", content: "3 degrees." },
          { role: "user", content: "And Bergen?" },
          { role: "assistant", content: null, tool_calls: [call("Bergen")] },
        ],
      },
    ],
    dir,
    valFraction: 0,
    seed: 1,
    sft: true,
    provenance: { campaignId: "c", iteration: 1 },
  });
  const r = runTrainPython(["-c", CHECK, CLASS_FILE, SFT_DATASET_CLASS, path.join(dir, "sft.parquet")]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    bases: string[];
    imports: string[];
    override: string[];
    base: string[];
    baseReturnsLossMask: boolean;
    contextOnly: [string, boolean][];
  };
  assert.deepEqual(out.bases, ["MultiTurnSFTDataset"]);
  assert.ok(out.imports.includes("verl.utils.dataset.multiturn_sft_dataset.MultiTurnSFTDataset"), out.imports.join(", "));
  assert.deepEqual(out.override, out.base, "the override takes the parameters verl passes by name");
  assert.ok(out.baseReturnsLossMask);
  assert.deepEqual(out.contextOnly, [
    ["system", false],
    ["user", false],
    ["assistant", true],
    ["user", false],
    ["assistant", true],
    ["user", false],
    ["assistant", false],
  ]);
});
