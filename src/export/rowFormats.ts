/**
 * Row formats of export.dataset (pure: the stage spec, which workflows import, reads it).
 * `toolloop` keeps id, kind and metadata (provenance) beside messages and tools; `openai-strict` has
 * nothing else (src/export/openaiStrict.ts).
 */
export const DATASET_ROW_FORMATS = ["toolloop", "openai-strict"] as const;
export type DatasetRowFormat = (typeof DATASET_ROW_FORMATS)[number];
