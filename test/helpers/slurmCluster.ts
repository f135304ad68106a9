/**
 * A private, real single-node Slurm cluster for tests (Debian's slurm-wlm and munge; install them with
 * scripts/ensure-slurm.sh): munged with its own key and socket, slurmctld and slurmd in the
 * foreground with a generated slurm.conf, all state, spool and logs under one folder, ports free on
 * loopback and bound to 127.0.0.1 only (CommunicationParameters=NoInAddrAny,NoCtldInAddrAny).
 *
 * No cgroups (proctrack/pgid, task/none) and no slurmdbd: accounting_storage/none with a text job
 * completion log, and MinJobAge of an hour so the controller keeps finished jobs for squeue and
 * scontrol (which is how the launcher finds finished jobs without accounting).
 *
 * Client commands find the cluster through SLURM_CONF: set `process.env.SLURM_CONF = cluster.confPath`
 * (children inherit it). stop() cancels every job, then stops the daemons. Needs root (slurmd runs
 * jobs as their users); the tests run as root here.
 */
import fs from "node:fs";
import crypto from "node:crypto";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { findFreePorts } from "../../src/services/ports.js";
import { cleanupOnParentExit, sleep, tailFile } from "../../src/util/childProcess.js";

export interface SlurmCluster {
  /** The generated slurm.conf; clients need SLURM_CONF set to it. */
  confPath: string;
  partition: string;
  nodeName: string;
  dir: string;
  stop(): Promise<void>;
}

const REQUIRED = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"];

function findBinary(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/bin"]) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env, timeout: 30_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** This machine as slurmd sees it ("CPUs=2 Boards=1 SocketsPerBoard=1 ... RealMemory=24105"), less the node name. */
async function nodeHardware(slurmd: string): Promise<string> {
  const r = await run(slurmd, ["-C"], process.env);
  const line = r.stdout.split("\n").find((l) => l.startsWith("NodeName="));
  if (r.code !== 0 || !line) throw new Error(`slurmd -C failed (exit ${r.code}): ${r.stderr.trim()}`);
  return line.replace(/^NodeName=\S+\s*/, "").trim();
}

function startDaemon(file: string, args: string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const out = fs.openSync(logFile, "a");
  try {
    return spawn(file, args, { stdio: ["ignore", out, out], env });
  } finally {
    fs.closeSync(out);
  }
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs: number, logs: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${logs.map((f) => `--- ${f}\n${tailFile(f, 15)}`).join("\n")}`);
    }
    await sleep(250);
  }
}

export async function startSlurmCluster(opts: { dir: string; log?: (m: string) => void }): Promise<SlurmCluster> {
  const log = opts.log ?? (() => undefined);
  const missing = REQUIRED.filter((b) => !findBinary(b));
  if (missing.length > 0) throw new Error(`Slurm test cluster: ${missing.join(", ")} not found; run scripts/ensure-slurm.sh (installs slurm-wlm and munge)`);
  if (process.getuid?.() !== 0) throw new Error("Slurm test cluster: must run as root (slurmd starts jobs as their users)");
  const bin = (name: string) => findBinary(name)!;

  const dir = path.resolve(opts.dir);
  const d = {
    mungeKeyDir: path.join(dir, "munge-key"),
    mungeRun: path.join(dir, "munge-run"),
    state: path.join(dir, "state"),
    spool: path.join(dir, "spool"),
    logs: path.join(dir, "logs"),
  };
  fs.mkdirSync(d.mungeKeyDir, { recursive: true, mode: 0o700 });
  for (const p of [d.mungeRun, d.state, d.spool, d.logs]) fs.mkdirSync(p, { recursive: true, mode: 0o755 });
  // munged checks that its socket folder is reachable by everyone, and that the key is private.
  fs.chmodSync(dir, 0o755);
  const keyFile = path.join(d.mungeKeyDir, "munge.key");
  fs.writeFileSync(keyFile, crypto.randomBytes(1024), { mode: 0o600 });
  const socket = path.join(d.mungeRun, "munge.socket");

  const daemons: ChildProcess[] = [];
  const unregister = cleanupOnParentExit(() => {
    for (const child of daemons) child.kill("SIGKILL");
  });
  const stopAll = async () => {
    for (const child of [...daemons].reverse()) await stopDaemon(child);
    unregister();
  };

  try {
    const mungeLog = path.join(d.logs, "munged.log");
    daemons.push(
      startDaemon(
        bin("munged"),
        [
          "--foreground",
          "--force",
          `--socket=${socket}`,
          `--key-file=${keyFile}`,
          `--log-file=${mungeLog}`,
          `--pid-file=${path.join(d.mungeRun, "munged.pid")}`,
          `--seed-file=${path.join(d.mungeKeyDir, "munged.seed")}`,
        ],
        path.join(d.logs, "munged.out"),
        process.env,
      ),
    );
    await waitUntil("munged's socket", async () => fs.existsSync(socket), 15_000, [mungeLog, path.join(d.logs, "munged.out")]);

    const [ctldPort, slurmdPort] = await findFreePorts(2);
    const nodeName = "localhost";
    const partition = "toolloop";
    const confPath = path.join(dir, "slurm.conf");
    const conf = [
      "# Generated by test/helpers/slurmCluster.ts: a private single-node test cluster on loopback.",
      "ClusterName=toolloop-test",
      "SlurmctldHost=localhost(127.0.0.1)",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "CommunicationParameters=NoInAddrAny,NoCtldInAddrAny",
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${d.state}`,
      `SlurmdSpoolDir=${d.spool}`,
      `SlurmctldPidFile=${path.join(d.state, "slurmctld.pid")}`,
      `SlurmdPidFile=${path.join(d.spool, "slurmd.pid")}`,
      `SlurmctldLogFile=${path.join(d.logs, "slurmctld.log")}`,
      `SlurmdLogFile=${path.join(d.logs, "slurmd.log")}`,
      "ProctrackType=proctrack/pgid",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/filetxt",
      `JobCompLoc=${path.join(d.logs, "jobcomp.txt")}`,
      "MinJobAge=3600",
      "MpiDefault=none",
      "MailProg=/bin/true",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "ReturnToService=2",
      "SlurmctldTimeout=30",
      "SlurmdTimeout=30",
      "KillWait=5",
      `NodeName=${nodeName} NodeAddr=127.0.0.1 ${await nodeHardware(bin("slurmd"))} State=UNKNOWN`,
      `PartitionName=${partition} Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4`,
      "",
    ].join("\n");
    fs.writeFileSync(confPath, conf);
    const env = { ...process.env, SLURM_CONF: confPath };
    const logs = [path.join(d.logs, "slurmctld.log"), path.join(d.logs, "slurmd.log"), path.join(d.logs, "slurmctld.out"), path.join(d.logs, "slurmd.out")];
    daemons.push(startDaemon(bin("slurmctld"), ["-D", "-i", "-f", confPath], path.join(d.logs, "slurmctld.out"), env));
    daemons.push(startDaemon(bin("slurmd"), ["-D", "-f", confPath, "-N", nodeName], path.join(d.logs, "slurmd.out"), env));
    for (const child of daemons) {
      child.once("exit", (code, signal) => log(`[slurm-cluster] ${child.spawnfile} exited (${signal ?? code})`));
    }
    await waitUntil(
      "the Slurm node to be idle",
      async () => {
        const r = await run(bin("sinfo"), ["--noheader", "--nodes", nodeName, "--format=%T"], env);
        return r.code === 0 && /^idle/.test(r.stdout.trim());
      },
      60_000,
      logs,
    );
    log(`[slurm-cluster] ready: slurmctld on 127.0.0.1:${ctldPort}, slurmd on 127.0.0.1:${slurmdPort}, SLURM_CONF=${confPath}`);

    let stopping: Promise<void> | undefined;
    return {
      confPath,
      partition,
      nodeName,
      dir,
      stop() {
        stopping ??= (async () => {
          // Jobs outlive slurmd (slurmstepd runs them): cancel them all and wait until they are gone.
          await run(bin("scancel"), ["--partition", partition], env).catch(() => undefined);
          const deadline = Date.now() + 20_000;
          while (Date.now() < deadline) {
            const q = await run(bin("squeue"), ["--noheader", "--format=%i"], env).catch(() => ({ code: 1, stdout: "" }));
            if (q.code !== 0 || q.stdout.trim() === "") break;
            await sleep(250);
          }
          await stopAll();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
