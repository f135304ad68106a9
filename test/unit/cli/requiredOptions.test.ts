/**
 * `--help` says which options are required. Commander's help shows a requiredOption like any other,
 * so `campaign start --help` listed `--config <file>  campaign config (JSON)` although start refuses
 * to run without it, also when --id starts a registered campaign again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../../helpers/cli.js";

/** The help's text for one option: its line and the lines its description wraps onto, as one line. */
function optionHelp(help: string, flag: string): string {
  const lines = help.split("\n");
  const at = lines.findIndex((l) => l.trimStart().startsWith(flag));
  assert.ok(at >= 0, `${flag} in:\n${help}`);
  const indent = lines[at]!.indexOf(flag);
  const rest = lines.slice(at + 1);
  const more = rest.findIndex((l) => l.length <= indent + 2 || l.slice(0, indent + 2).trim() !== "");
  return [lines[at]!, ...rest.slice(0, more < 0 ? rest.length : more)].map((l) => l.trim()).join(" ");
}

test("campaign start --help marks --config required and says a rerun of a registered campaign needs it too", async () => {
  const r = await runCli(["campaign", "start", "--help"], { TEMPORAL_ADDRESS: "", DATABASE_URL: "" });
  assert.equal(r.status, 0, r.stderr);
  const config = optionHelp(r.stdout, "--config <file>");
  assert.match(config, /\(required\)/, config);
  assert.match(config, /--id/, config);
  // Options that are not required stay unmarked.
  assert.doesNotMatch(optionHelp(r.stdout, "--id <campaignId>"), /\(required\)/);
  assert.doesNotMatch(optionHelp(r.stdout, "--wait"), /\(required\)/);
});

test("every command's help marks its required options, and only those", async () => {
  for (const [args, required, optional] of [
    [["campaign", "validate"], ["--config <file>"], ["--json"]],
    [["schedule", "create"], ["--config <file>"], ["--schedule <id>"]],
    [["schedule", "backfill"], ["--from <time>", "--to <time>"], ["--max-runs <n>"]],
    [["bfcl", "check"], ["--category <name>", "--outputs <file>"], ["--mode <mode>"]],
    [["bfcl", "probe"], ["--base-url <url>", "--model <name>"], ["--limit <n>"]],
  ] as const) {
    const r = await runCli([...args, "--help"], { TEMPORAL_ADDRESS: "", DATABASE_URL: "" });
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    for (const flag of required) assert.match(optionHelp(r.stdout, flag), /\(required\)/, `${args.join(" ")} ${flag}`);
    for (const flag of optional) assert.doesNotMatch(optionHelp(r.stdout, flag), /\(required\)/, `${args.join(" ")} ${flag}`);
  }
});
