/**
 * The custom search attributes our workflows upsert (see workflows/searchAttributes.ts). The dev
 * server registers them at start (`--search-attribute Name=Type`) and docker/temporal-setup.sh
 * registers the same list on a compose server, so the Temporal UI can filter campaigns by them.
 */
export type SearchAttributeTypeName = "Text" | "Keyword" | "Int" | "Double" | "Bool" | "Datetime" | "KeywordList";

export interface CustomSearchAttribute {
  name: string;
  type: SearchAttributeTypeName;
}

export const CUSTOM_SEARCH_ATTRIBUTES: readonly CustomSearchAttribute[] = [
  { name: "CampaignId", type: "Keyword" },
  { name: "Iteration", type: "Int" },
  { name: "Stage", type: "Keyword" },
  { name: "CampaignStatus", type: "Keyword" },
];

/** `--search-attribute Name=Type` pairs for `temporal server start-dev`. */
export function searchAttributeFlags(attributes: readonly CustomSearchAttribute[] = CUSTOM_SEARCH_ATTRIBUTES): string[] {
  return attributes.flatMap((a) => ["--search-attribute", `${a.name}=${a.type}`]);
}
