/** A node script as a child process with its exit status, output and peak memory, for bad-input tests. */
import { execFile } from "node:child_process";

// Reports the child's peak RSS as its last stderr line; a --import hook, so the script runs unchanged.
const REPORT_RSS = `data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxRssKiB="+process.resourceUsage().maxRSS+"\\n"))`;

export interface MeasuredRun {
  /** Exit status; null when the timeout killed it. */
  status: number | null;
  stdout: string;
  /** stderr without the RSS report. */
  stderr: string;
  maxRssMiB: number;
  ms: number;
}

export function runNodeMeasured(script: string, args: string[], timeoutMs = 30_000): Promise<MeasuredRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", REPORT_RSS, script, ...args], { encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      const m = /\nmaxRssKiB=(\d+)\n$/.exec(stderr);
      resolve({
        status: typeof code === "number" ? code : null,
        stdout,
        stderr: m ? stderr.slice(0, m.index) : stderr,
        maxRssMiB: m ? Number(m[1]) / 1024 : Number.NaN,
        ms: Date.now() - started,
      });
    });
  });
}
