/**
 * The variation lists of error-driven expansion. Their own module, free of Node imports, because the
 * stage spec (and so the workflow bundle, through the campaign config) needs them as config defaults.
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
