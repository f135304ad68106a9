/**
 * The error expander's variation vocabulary. Its own module without Node imports: the expand.errors
 * spec reads it, and specs are bundled into the Temporal workflow code, where node:crypto is not allowed.
 */
export const COMPLEXITIES = ["simpler", "same", "richer"] as const;
export type Complexity = (typeof COMPLEXITIES)[number];

export const DEFAULT_PERSONAS = [
  "a busy small-business owner",
  "a retired teacher",
  "a university student",
  "a software engineer",
  "a travel agent",
  "a nurse on a night shift",
  "a journalist on a deadline",
  "a parent planning for a family",
] as const;

export const DEFAULT_STYLES = ["terse", "polite and detailed", "casual", "formal", "in a hurry", "slightly confused but precise about values"] as const;
