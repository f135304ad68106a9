#!/usr/bin/env node
/** The `toolloop` command line. */
import { Command, CommanderError, Help, type Option } from "commander";
import { registerCampaignCommands } from "./campaign.js";
import { registerBfclCommands } from "./bfcl.js";
import { registerDemoCommand } from "./demoCommand.js";
import { registerRewardCommands } from "./reward.js";
import { cliEnvForMessages } from "./env.js";
import { EXIT_BAD_INPUT, renderCliFailure } from "./errors.js";
import { registerWorkerCommands } from "./workerCommands.js";
import { registerModelCommands } from "./model.js";
import { registerSampleCommands } from "./lineage.js";
import { registerReportCommands } from "./report.js";
import { registerScheduleCommands } from "./schedule.js";
import { stopQuietlyOnClosedPipe } from "./closedPipe.js";

stopQuietlyOnClosedPipe(process.stdout);
stopQuietlyOnClosedPipe(process.stderr);

const program = new Command();
program
  .name("toolloop")
  .description("closed-loop tool-use data campaigns on Temporal")
  .option("--debug", "print stack traces for errors (accepted anywhere on the command line)")
  .showHelpAfterError()
  // Commander's help lists a required option like any other: say it first (a long description would
  // hide it at the end). Set before the commands are added, which copy it.
  .configureHelp({
    optionDescription(this: Help, option: Option): string {
      const text = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `(required) ${text}` : text;
    },
  })
  // Throw instead of exiting, so usage errors get the bad-input exit code like every other bad input.
  .exitOverride();
registerCampaignCommands(program);
registerWorkerCommands(program);
registerDemoCommand(program);
registerBfclCommands(program);
registerModelCommands(program);
registerSampleCommands(program);
registerRewardCommands(program);
registerReportCommands(program);
registerScheduleCommands(program);

// --debug is taken out of argv here so it works anywhere on the line (commander would refuse it after a
// subcommand), and so a failure while parsing still knows about it.
const debug = process.argv.includes("--debug");
program.parseAsync(process.argv.filter((a) => a !== "--debug")).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed its message (or the help) already.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    return;
  }
  const { text, exitCode } = renderCliFailure(err, cliEnvForMessages(), debug);
  console.error(text);
  process.exitCode = exitCode;
});
