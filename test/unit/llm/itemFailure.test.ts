/**
 * Which failed requests are the item's own (recorded against it, the stage goes on) and which stop
 * the batch: transport trouble, an aborted request, and an endpoint that refuses every request.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEndpointMisconfigured, isItemFailure, kindForStatus, LlmError } from "../../../src/llm/errors.js";

const http = (status: number) => new LlmError(kindForStatus(status), `HTTP ${status}`, { status });

test("a refused prompt or an unusable answer is the item's failure", () => {
  for (const status of [400, 413, 422]) assert.equal(isItemFailure(http(status)), true, String(status));
  assert.equal(isItemFailure(new LlmError("bad_response", "no JSON in the answer")), true);
  // The client's own argument checks carry no status: the item's request, not the endpoint.
  assert.equal(isItemFailure(new LlmError("client", "promptLogprobs(): prompt must be a non-empty string")), true);
});

test("a wrong key, path or model stops the batch: every request would get the same answer", () => {
  for (const status of [401, 403, 404, 405, 407]) {
    assert.equal(isEndpointMisconfigured(http(status)), true, String(status));
    assert.equal(isItemFailure(http(status)), false, String(status));
  }
  assert.equal(isEndpointMisconfigured(http(400)), false);
});

test("transport trouble, an unavailable endpoint and an aborted request are not the item's", () => {
  for (const status of [408, 429, 500, 502, 503]) assert.equal(isItemFailure(http(status)), false, String(status));
  for (const kind of ["timeout", "network", "unavailable", "aborted", "rate_limited", "server"] as const) {
    assert.equal(isItemFailure(new LlmError(kind, kind)), false, kind);
  }
  assert.equal(isItemFailure(new Error("not an LlmError")), false);
  assert.equal(isItemFailure(undefined), false);
});
