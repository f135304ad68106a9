/**
 * The simulated assistant's words: questions for missing values, final answers over tool results,
 * declines. Plain sentences only (no JSON, no brackets), because the engine's style check rejects
 * assistant text that leaks JSON; a final answer never contains a question mark, so the user (and the
 * reading) can tell it from a question.
 */
import type { SeededRandom } from "../../../util/random.js";
import { asImperative, firstSentence, identifierWords, joinList } from "../text.js";
import type { MadeCall, ReadCall } from "./reading.js";
import { isObject } from "./cases.js";

const MAX_FIELDS = 4;
const MAX_CALLS = 6;
const MAX_VALUE_CHARS = 60;

function words(name: string): string {
  return identifierWords(name).join(" ");
}

/** A value in prose: strings unquoted, lists counted, objects by their size; no brackets. */
export function plainValue(v: unknown): string {
  if (typeof v === "string") {
    const s = v
      .replace(/[{}[\]`]/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 3)}...` : s;
  }
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? "" : "s"}`;
  return `${Object.keys(v).length} field${Object.keys(v).length === 1 ? "" : "s"}`;
}

function clean(s: string): string {
  return s
    .replace(/[{}[\]`?]/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

function resultSummary(value: unknown): string {
  if (!isObject(value)) return plainValue(value);
  const fields = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .slice(0, MAX_FIELDS)
    .map(([k, v]) => `${words(k) || k} ${plainValue(v)}`);
  return fields.length > 0 ? joinList(fields) : "no details";
}

const FINAL_OPENERS = ["Here is what I found.", "Done.", "All set.", "Here are the results."];
const QUESTION_OPENERS = ["I can do that, but I need one more detail.", "Happy to help with that.", "Almost there."];

function errorOf(value: unknown): { type: string; message: string } {
  const e = isObject(value) && isObject(value.error) ? value.error : {};
  return { type: typeof e.type === "string" ? e.type : "error", message: typeof e.message === "string" ? e.message : "the tool reported an error" };
}

/** A final answer summarising every result of the request (errors included, in words). */
export function finalAnswer(rng: SeededRandom, made: readonly MadeCall[]): string {
  const parts = made.slice(0, MAX_CALLS).map((c) => {
    const what = words(c.name) || c.name;
    if (!c.result) return `The ${what} call got no result.`;
    if (!c.result.ok) {
      const e = errorOf(c.result.value);
      return `The ${what} call did not go through (${words(e.type)}): ${clean(e.message)}.`;
    }
    return `The ${what} call returned ${clean(resultSummary(c.result.value))}.`;
  });
  const more = made.length > MAX_CALLS ? ` ${made.length - MAX_CALLS} more call(s) completed as well.` : "";
  return `${rng.pick(FINAL_OPENERS)} ${parts.join(" ")}${more}`.trim();
}

/** A question naming every required value nobody gave. */
export function question(rng: SeededRandom, missing: readonly { call: ReadCall; params: string[] }[]): string {
  const asks = missing.map(({ call, params }) => {
    const task = asImperative(firstSentence(call.tool.description)) || words(call.tool.name);
    return `to ${clean(task)} I need the ${joinList(params.map(words))}`;
  });
  const n = missing.reduce((a, m) => a + m.params.length, 0);
  return `${rng.pick(QUESTION_OPENERS)} ${joinList(asks).replace(/^t/, "T")}. Could you tell me ${n === 1 ? "it" : "them"}?`;
}

const DECLINES = [
  "I'm sorry, but none of the tools I have can help with that request.",
  "I can't do that with the tools available to me; none of them fits this request.",
  "That request is outside what my available tools can handle.",
];
const CLOSINGS = ["You're welcome. Glad I could help.", "Happy to help. Have a good day.", "Anytime. Good luck with everything."];

export function decline(rng: SeededRandom, closing: boolean): string {
  return rng.pick(closing ? CLOSINGS : DECLINES);
}
