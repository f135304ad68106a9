/** The JSON Schema 2020-12 keywords (plus draft-07's `definitions`) whose values are subschemas. */

/** Keywords holding one subschema. */
export const SUBSCHEMA_KEYS = [
  "items",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "contains",
  "not",
  "if",
  "then",
  "else",
  "propertyNames",
] as const;
/** Keywords holding a list of subschemas. */
export const SUBSCHEMA_LIST_KEYS = ["anyOf", "oneOf", "allOf", "prefixItems"] as const;
/** Keywords holding a map from names to subschemas. */
export const SUBSCHEMA_MAP_KEYS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"] as const;
/** Keywords that combine subschemas; closing an object inside one would reject its siblings' properties. */
export const COMBINATOR_KEYS = ["anyOf", "oneOf", "allOf"] as const;

/**
 * How deep subschemas may nest (each `properties.x`, `items`, `anyOf[i]`... is one level). Real tool
 * schemas stay under ten; every recursive walk over a schema stops here instead of overflowing the stack.
 */
export const MAX_SCHEMA_DEPTH = 64;
/**
 * How deep any JSON inside a tool may nest (enum values, defaults, annotations...): a 64-level schema
 * takes about 130 JSON levels through `properties`, so this leaves room and still bounds every walk.
 */
export const MAX_TOOL_JSON_DEPTH = 160;
/** How deep a call's argument values may nest; Ajv and our canonical JSON walk them recursively. */
export const MAX_ARGUMENT_DEPTH = 64;
