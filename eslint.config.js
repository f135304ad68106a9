// Lint rules that matter for durability: no floating promises anywhere (`void` does not excuse one:
// a rejected fire-and-forget promise exits the worker), and nothing in workflows/
// that could break determinism (Node built-ins, I/O libraries, wall clock, randomness).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const nodeBuiltins = [
  "assert",
  "buffer",
  "child_process",
  "cluster",
  "crypto",
  "dgram",
  "dns",
  "events",
  "fs",
  "fs/promises",
  "http",
  "http2",
  "https",
  "net",
  "os",
  "path",
  "perf_hooks",
  "process",
  "readline",
  "stream",
  "timers",
  "tls",
  "url",
  "util",
  "v8",
  "vm",
  "worker_threads",
  "zlib",
];

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "migrations/**",
      ".toolloop/**",
      "eslint.config.js",
      "scripts/**/*.py",
      ".venv/**",
      ".venv-bfcl/**",
      ".venv-ray/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          ignoreVoid: false,
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite", "before", "after", "beforeEach", "afterEach"] },
          ],
        },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // Layers: these folders must not depend on each other this way (DESIGN.md, "Layout").
  ...[
    {
      files: ["src/evaluation/**/*.ts"],
      group: ["**/services/*"],
      message: "Evaluation must not import the dev-services harness; shared process helpers live in src/util/childProcess.ts.",
    },
    {
      files: ["src/tools/**/*.ts"],
      group: ["**/verification/*"],
      message: "Tools must not import verification; shared JSON Schema machinery lives in src/jsonSchema.",
    },
    {
      files: ["src/verification/**/*.ts"],
      group: ["**/tools/*", "!**/tools/hash.js"],
      message: "Verification may import only tools/hash.js from tools, so the two never import each other.",
    },
    {
      files: ["src/jsonSchema/**/*.ts"],
      group: ["**/tools/*", "**/verification/*"],
      message: "jsonSchema sits below tools and verification: it imports neither.",
    },
    { files: ["src/cli/**/*.ts"], group: ["drizzle-orm", "drizzle-orm/*"], message: "The CLI reaches the database through src/db/repos, not SQL of its own." },
    {
      files: ["src/stages/**/*.ts", "src/framework/**/*.ts"],
      group: ["**/llm/simulator/truth", "**/llm/simulator/truth.js"],
      message: "The simulator's truth channel is for tests, the benchmark and the demo's printed numbers only: a stage must never know which labels are wrong.",
    },
  ].map(({ files, group, message }) => ({ files, rules: { "no-restricted-imports": ["error", { patterns: [{ group, message }] }] } })),
  {
    files: ["workflows/**/*.ts"],
    rules: {
      // The typescript-eslint variant lets `import type` through: types vanish at compile time.
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: "Workflows must be deterministic: no Node built-ins." })),
            ...["pg", "openai", "drizzle-orm", "@electric-sql/pglite", "@temporalio/activity", "@temporalio/worker", "@temporalio/client"].map((name) => ({
              name,
              message: "Workflows must not do I/O: call an activity.",
            })),
          ],
          patterns: [
            {
              group: ["drizzle-orm/*", "../src/db/*", "../src/llm/*", "../activities/*", "!../activities/types*"],
              message: "Workflows must not import I/O modules; use `import type` for activities.",
              allowTypeImports: true,
            },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        { name: "setTimeout", message: "Use sleep() from @temporalio/workflow." },
        { name: "setInterval", message: "Use sleep() from @temporalio/workflow." },
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Use workflow time (Date.now is patched, but be explicit with workflowInfo)." },
        { object: "Math", property: "random", message: "Use the workflow's seeded random via @temporalio/workflow's uuid4 or a seed." },
      ],
    },
  },
);
