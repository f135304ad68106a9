/**
 * The logger the Temporal SDK's runtime writes through in toolloop's processes (worker, demo).
 *
 * Why: toolloop runs activity-only workers by design (the llm and cluster task queues, and a
 * worker started with `--roles` without workflows), and the SDK warns for each of them at start
 * ("No workflows registered, not polling for workflow tasks"). A warning an operator is told to
 * ignore teaches them to ignore warnings, so that one message is written at DEBUG; everything else
 * passes through unchanged.
 */
import { DefaultLogger, type LogLevel, type LogMetadata, type Logger } from "@temporalio/worker";

export const ACTIVITY_ONLY_WORKER_WARNING = "No workflows registered, not polling for workflow tasks";

export class SdkLogger implements Logger {
  constructor(private readonly inner: Logger = new DefaultLogger("INFO")) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.inner.log(level === "WARN" && message === ACTIVITY_ONLY_WORKER_WARNING ? "DEBUG" : level, message, meta);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log("TRACE", message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log("DEBUG", message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log("INFO", message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log("WARN", message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log("ERROR", message, meta);
  }
}
