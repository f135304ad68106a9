#!/usr/bin/env node
/** The `toolloop` command line. */
import { Command } from "commander";
import { CliError, registerCampaignCommands } from "./campaign.js";
import { registerBfclCommands } from "./bfcl.js";
import { registerDemoCommand } from "./demo.js";
import { registerWorkerCommands } from "./worker.js";

const program = new Command();
program.name("toolloop").description("closed-loop tool-use data campaigns on Temporal").showHelpAfterError();
registerCampaignCommands(program);
registerWorkerCommands(program);
registerDemoCommand(program);
registerBfclCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CliError) {
    console.error(`error: ${err.message}`);
    process.exitCode = err.exitCode;
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  }
});
