/** The JSON Schema 2020-12 keywords (plus draft-07's `definitions`) whose values are subschemas. */

/** Keywords holding one subschema. */
export const SUBSCHEMA_KEYS = ["items", "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "contains", "not", "if", "then", "else", "propertyNames"] as const;
/** Keywords holding a list of subschemas. */
export const SUBSCHEMA_LIST_KEYS = ["anyOf", "oneOf", "allOf", "prefixItems"] as const;
/** Keywords holding a map from names to subschemas. */
export const SUBSCHEMA_MAP_KEYS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"] as const;
/** Keywords that combine subschemas; closing an object inside one would reject its siblings' properties. */
export const COMBINATOR_KEYS = ["anyOf", "oneOf", "allOf"] as const;
