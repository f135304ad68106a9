/** BFCL v3 category names as campaign configs spell them. Pure: config schemas import it. */
export const BFCL_EVAL_CATEGORIES = [
  "simple",
  "multiple",
  "parallel",
  "parallel_multiple",
  "java",
  "javascript",
  "irrelevance",
  "live_simple",
  "live_multiple",
  "live_parallel",
  "live_parallel_multiple",
  "live_irrelevance",
  "live_relevance",
  "multi_turn_base",
  "multi_turn_miss_func",
  "multi_turn_miss_param",
  "multi_turn_long_context",
] as const;

/** The non-multi-turn categories the fast check (our matcher, in process) scores. */
export const BFCL_FAST_CATEGORIES = BFCL_EVAL_CATEGORIES.filter((c) => !c.startsWith("multi_turn"));
