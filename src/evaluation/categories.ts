/**
 * BFCL v3 category names (what campaign configs use) and their names inside the installed bfcl-eval
 * package: from the v4 releases on, three non-live categories were renamed (simple -> simple_python,
 * java -> simple_java, javascript -> simple_javascript); the rest kept their names.
 */
import { BFCL_EVAL_CATEGORIES } from "../bfcl/categoryNames.js";

export type BfclCategory = (typeof BFCL_EVAL_CATEGORIES)[number];
export const ALL_BFCL_CATEGORIES: readonly BfclCategory[] = BFCL_EVAL_CATEGORIES;

export const NON_LIVE_SIMPLE: readonly BfclCategory[] = ["simple", "java", "javascript"];
export const NON_LIVE: readonly BfclCategory[] = ["simple", "java", "javascript", "multiple", "parallel", "parallel_multiple", "irrelevance"];
export const LIVE: readonly BfclCategory[] = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance"];
export const LIVE_AST: readonly BfclCategory[] = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"];
export const MULTI_TURN: readonly BfclCategory[] = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"];

/** File-name prefix of the package's data, e.g. "BFCL_v4"; it decides the naming scheme. */
export type PackageLayout = "v3" | "v4";

const V4_RENAMES: Partial<Record<BfclCategory, string>> = { simple: "simple_python", java: "simple_java", javascript: "simple_javascript" };

export function packageCategoryName(category: BfclCategory, layout: PackageLayout): string {
  return layout === "v4" ? (V4_RENAMES[category] ?? category) : category;
}

export function isBfclCategory(name: string): name is BfclCategory {
  return (ALL_BFCL_CATEGORIES as readonly string[]).includes(name);
}

export function isMultiTurn(category: BfclCategory): boolean {
  return category.startsWith("multi_turn_");
}
