/**
 * One Ajv setup (JSON Schema 2020-12 + formats) shared by the tool library, which checks that a tool's
 * schema compiles, and by rule verification, which validates call arguments against it. Using the same
 * dialect in both places means a tool that loads is a tool whose calls can be verified.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS: under NodeNext the default import is `module.exports`, whose `.default` is the plugin.
const addFormats = addFormatsModule.default;

/** The seven type names JSON Schema defines; anything else in `type` is a typo we report. */
export const JSON_SCHEMA_TYPES: ReadonlySet<string> = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);

export function createAjv(): Ajv2020 {
  // strict: false because real tool schemas carry vendor keywords (x-*, examples, title...) we must tolerate;
  // logger: false so unknown formats are ignored silently instead of spamming the worker log.
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

/**
 * Tool schemas in the wild often declare `$schema` as draft-07 (OpenAI examples do); the keywords they
 * use are the common subset, so we compile them under 2020-12 without the declaration rather than
 * rejecting them for naming a different meta-schema.
 */
export function withoutSchemaDeclaration(schema: Record<string, unknown>): Record<string, unknown> {
  if (!("$schema" in schema)) return schema;
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

export type { ErrorObject, ValidateFunction };
