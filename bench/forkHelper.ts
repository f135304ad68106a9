/**
 * A bench's helper process (the simulator, a client) forked from a script beside the bench, with its
 * argument as JSON in argv[2] and a way to ask it something: the next IPC message of a type.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BenchHelper {
  child: ChildProcess;
  /** The next message of `type`; rejects if the helper exits before sending one. */
  next<T>(type: string): Promise<T>;
}

export function forkHelper(script: string, arg: unknown): BenchHelper {
  const child = fork(path.join(here, script), [JSON.stringify(arg)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const waiting = new Map<string, ((m: unknown) => void)[]>();
  child.on("message", (m: { type: string }) => waiting.get(m.type)?.shift()?.(m));
  return {
    child,
    next: <T>(type: string) =>
      new Promise<T>((resolve, reject) => {
        // The exit listener goes when the answer comes: a poller may ask every 250 ms.
        const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before sending "${type}"`));
        const list = waiting.get(type) ?? [];
        list.push((m: unknown) => {
          child.off("exit", onExit);
          resolve(m as T);
        });
        waiting.set(type, list);
        child.once("exit", onExit);
      }),
  };
}
