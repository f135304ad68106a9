import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CampaignIdKey, CampaignStatusKey, IterationKey, StageKey } from "../../workflows/searchAttributes.js";
import { CUSTOM_SEARCH_ATTRIBUTES, searchAttributeFlags } from "../../src/services/searchAttributes.js";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const expectedPairs = CUSTOM_SEARCH_ATTRIBUTES.map((a) => `${a.name}=${a.type}`).join(" ");

test("the services' search attributes are exactly the ones the workflows upsert", () => {
  const typeNames: Record<string, string> = {
    KEYWORD: "Keyword",
    INT: "Int",
    TEXT: "Text",
    DOUBLE: "Double",
    BOOL: "Bool",
    DATETIME: "Datetime",
    KEYWORD_LIST: "KeywordList",
  };
  const fromWorkflows = [CampaignIdKey, IterationKey, StageKey, CampaignStatusKey].map((k) => ({ name: k.name, type: typeNames[k.type] }));
  assert.deepEqual([...CUSTOM_SEARCH_ATTRIBUTES], fromWorkflows);
});

test("searchAttributeFlags renders start-dev flags", () => {
  assert.deepEqual(searchAttributeFlags([{ name: "A", type: "Int" }]), ["--search-attribute", "A=Int"]);
  assert.equal(searchAttributeFlags().length, CUSTOM_SEARCH_ATTRIBUTES.length * 2);
});

test("docker setup registers the same search attributes", () => {
  const compose = fs.readFileSync(path.join(REPO_ROOT, "docker-compose.yml"), "utf8");
  assert.match(compose, new RegExp(`TOOLLOOP_SEARCH_ATTRIBUTES: ${expectedPairs}\\n`));
  const setup = fs.readFileSync(path.join(REPO_ROOT, "docker/temporal-setup.sh"), "utf8");
  assert.ok(setup.includes(`TOOLLOOP_SEARCH_ATTRIBUTES:-${expectedPairs}}`), "docker/temporal-setup.sh default list");
});
