/**
 * Which partition-held Slurm jobs can never start (slurm.ts partitionFit): the job's request against
 * its partition's configuration, as `scontrol show job` / `show partition` print them. Against real
 * Slurm: test/e2e/slurmNeverStarts.test.ts and test/e2e/slurmPartitionElastic.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { minutesOf, partitionFit } from "../../../src/training/launchers/slurm.js";

const job = (over: Record<string, string> = {}) => ({
  Partition: "gpu",
  NumNodes: "1",
  NumCPUs: "8",
  MinCPUsNode: "8",
  MinMemoryNode: "0",
  TimeLimit: "01:00:00",
  ...over,
});
// Four nodes of 64 CPUs: scontrol's totals count down, drained and powered-down (cloud) nodes alike.
const partition = (over: Record<string, string> = {}) => ({
  PartitionName: "gpu",
  TotalNodes: "4",
  TotalCPUs: "256",
  MaxNodes: "UNLIMITED",
  MinNodes: "0",
  MaxTime: "UNLIMITED",
  MaxCPUsPerNode: "UNLIMITED",
  MaxMemPerNode: "UNLIMITED",
  ...over,
});
const fixed = { maxNodeCount: 4, nodeCount: 4 };
const elastic = { maxNodeCount: 64, nodeCount: 4 };

test("a job the partition's configured nodes can hold waits, whatever state they are in now", () => {
  const fit = partitionFit({ job: job({ NumNodes: "4", NumCPUs: "256" }), partition: partition(), ...fixed });
  assert.ok("waits" in fit, JSON.stringify(fit));
  assert.match(fit.waits, /partition gpu's configuration can hold it \(4 nodes, 256 CPUs, counting every node .*powered-down and cloud/);
  assert.match(fit.waits, /may start once nodes return \(from DOWN, DRAIN or power saving\)/);
});

test("more nodes or CPUs than the partition is configured with never start on a cluster that cannot add nodes", () => {
  const nodes = partitionFit({ job: job({ NumNodes: "5", NumCPUs: "40" }), partition: partition(), ...fixed });
  assert.deepEqual(nodes, {
    never:
      "it asks partition gpu for 5 nodes, and it has 4 (the stage's nnodes) (counting every node it is configured with, down, drained, powered-down and cloud ones too), and the cluster cannot add nodes (MaxNodeCount 4)",
  });
  const cpus = partitionFit({ job: job({ NumCPUs: "512", MinCPUsNode: "512" }), partition: partition(), ...fixed });
  assert.ok("never" in cpus && /512 CPUs, and its nodes have 256 in all \(cpusPerTask times nnodes\)/.test(cpus.never), JSON.stringify(cpus));
});

test("on an elastic cluster (MaxNodeCount above its nodes) the same job waits for nodes to join", () => {
  const fit = partitionFit({ job: job({ NumNodes: "5-5", NumCPUs: "40" }), partition: partition(), ...elastic });
  assert.deepEqual(fit, {
    waits:
      "it asks partition gpu for 5 nodes, and it has 4 (the stage's nnodes) now, but the cluster can add nodes (MaxNodeCount 64 above its 4): it starts if enough join the partition",
  });
});

test("the partition's own limits never start the job, elastic cluster or not, each naming its setting", () => {
  const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
    [{ NumNodes: "3" }, { MaxNodes: "2" }, /3 nodes, above the partition's MaxNodes of 2 \(the stage's nnodes\)/],
    [{ NumNodes: "1" }, { MinNodes: "2" }, /1 node\(s\), below the partition's MinNodes of 2/],
    [
      { TimeLimit: "1-00:00:00" },
      { MaxTime: "12:00:00" },
      /a time limit of 1440 minutes, above the partition's MaxTime of 720 \(the stage's timeLimitMinutes\)/,
    ],
    [{ MinCPUsNode: "96" }, { MaxCPUsPerNode: "64" }, /96 CPUs per node, above the partition's MaxCPUsPerNode of 64 \(cpusPerTask\)/],
    [{ MinMemoryNode: "512G" }, { MaxMemPerNode: "262144" }, /512G of memory per node, above the partition's MaxMemPerNode of 262144M \(memPerNode\)/],
  ];
  for (const [j, p, expected] of cases) {
    const fit = partitionFit({ job: job(j), partition: partition(p), ...elastic });
    assert.ok("never" in fit && expected.test(fit.never), `${JSON.stringify(j)} ${JSON.stringify(p)}: ${JSON.stringify(fit)}`);
  }
});

test("what scontrol does not say counts as 'may start' (watched on), never as a failure", () => {
  assert.ok("waits" in partitionFit({ job: {}, partition: {} }));
  assert.ok("waits" in partitionFit({ job: job({ NumNodes: "9" }), partition: partition({ TotalNodes: "N/A" }) }));
  // Over the totals, but whether the cluster can add nodes is unknown (no MaxNodeCount read).
  const unknownRoom = partitionFit({ job: job({ NumNodes: "9" }), partition: partition() });
  assert.ok("waits" in unknownRoom && /the cluster may add nodes \(its MaxNodeCount could not be read\)/.test(unknownRoom.waits), JSON.stringify(unknownRoom));
});

test("Slurm's durations as minutes", () => {
  assert.equal(minutesOf("10"), 10);
  assert.equal(minutesOf("00:10:00"), 10);
  assert.equal(minutesOf("10:30"), 11);
  assert.equal(minutesOf("2-12"), 3600);
  assert.equal(minutesOf("1-00:30:00"), 1470);
  assert.equal(minutesOf("UNLIMITED"), undefined);
  assert.equal(minutesOf("INFINITE"), undefined);
});
