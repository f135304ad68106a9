/**
 * The generated part of each stage's doc (docs/stages/<name>.md): title, task queue, roles, what
 * the stage reads and writes and its config fields with their defaults, all taken from the stage's
 * spec and zod schema, so the docs cannot drift from the code (test/unit/docs/stageDocs.test.ts).
 * The prose around the block (what the stage is for, outputs, failure modes) is written by hand.
 */
import { z } from "zod";
import type { StageSpec } from "../framework/stageSpec.js";

type AnyStageSpec = StageSpec<string, { name: string; batchSize: number }>;

export const GENERATED_BEGIN = "<!-- generated from the stage spec: `node dist/src/docs/writeStageDocs.js` rewrites this block -->";
export const GENERATED_END = "<!-- end of generated block -->";

interface JsonSchemaNode {
  type?: string | string[];
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  const?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map((v) => JSON.stringify(v)).join(" \\| ");
  if (node.const !== undefined) return JSON.stringify(node.const);
  if (node.anyOf) return node.anyOf.map(typeOf).join(" \\| ");
  if (node.type === "array" && node.items) return `list of ${typeOf(node.items)}`;
  if (Array.isArray(node.type)) return node.type.join(" \\| ");
  return node.type ?? "any";
}

/** Markdown table cell: JSON on one line, pipes escaped. */
function cell(value: unknown): string {
  return "`" + JSON.stringify(value).replaceAll("|", "\\|") + "`";
}

/**
 * One row per field; an object field with its own fields gets a row per nested field
 * (`grpo.rolloutN`), whose default is the parent default's value when the parent has one.
 */
function fieldRows(node: JsonSchemaNode, prefix: string, parentDefault: unknown): string[] {
  const required = new Set(node.required ?? []);
  return Object.entries(node.properties ?? {})
    .filter(([field]) => !(prefix === "" && field === "name"))
    .flatMap(([field, child]) => {
      const inherited = isRecord(parentDefault) ? parentDefault[field] : undefined;
      const dflt = child.default ?? inherited;
      const name = `${prefix}${field}`;
      if (child.properties && Object.keys(child.properties).length > 0) {
        const head = `| \`${name}\` | object | ${dflt === undefined ? (required.has(field) ? "**required**" : "unset") : "fields below"} |`;
        return [head, ...fieldRows(child, `${name}.`, dflt)];
      }
      const shown = dflt !== undefined ? cell(dflt) : required.has(field) && parentDefault === undefined ? "**required**" : "unset";
      return [`| \`${name}\` | ${typeOf(child)} | ${shown} |`];
    });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The fixed roles, and the roles its config names (a committee's members) as they are by default. */
function rolesLine(spec: AnyStageSpec): string {
  const fixed = spec.roles.map((r) => `\`${r}\``);
  if (!spec.configuredRoles) return fixed.length > 0 ? fixed.join(", ") : "none (no LLM calls)";
  const defaults = (spec.schema as z.ZodType).safeParse({ name: spec.name });
  const named = defaults.success ? [...new Set(spec.configuredRoles(defaults.data as never).map((r) => `\`${r.role}\``))] : [];
  const configured = `the roles its config names${named.length > 0 ? ` (by default ${named.join(", ")})` : ""}`;
  return fixed.length > 0 ? `${fixed.join(", ")}, and ${configured}` : configured;
}

export function renderStageReference(spec: AnyStageSpec): string {
  const schema = z.toJSONSchema(spec.schema as z.ZodType, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonSchemaNode>;
    required?: string[];
  };
  const rows = fieldRows(schema, "", undefined);
  const lines = [
    GENERATED_BEGIN,
    "",
    `- **Stage**: \`${spec.name}\` (${spec.title})`,
    `- **Task queue**: \`<prefix>-${spec.latency}\` (\`toolloop-${spec.latency}\` by default)`,
    `- **Roles**: ${rolesLine(spec)}`,
    `- **Reads**: ${spec.reads.describe}`,
    `- **Writes**: ${spec.writes}`,
    "",
    "| field | type | default |",
    "| --- | --- | --- |",
    ...rows,
    "",
    GENERATED_END,
  ];
  return lines.join("\n");
}

/** The doc with its generated block replaced (or appended after the title when it has none). */
export function withReference(doc: string, spec: AnyStageSpec): string {
  const block = renderStageReference(spec);
  const begin = doc.indexOf(GENERATED_BEGIN);
  const end = doc.indexOf(GENERATED_END);
  if (begin >= 0 && end > begin) return doc.slice(0, begin) + block + doc.slice(end + GENERATED_END.length);
  const firstBreak = doc.indexOf("\n\n");
  return firstBreak < 0 ? `${doc}\n\n${block}\n` : `${doc.slice(0, firstBreak)}\n\n${block}${doc.slice(firstBreak)}`;
}
