/**
 * The simulated user (USER_TURN_MARKER): follows its plan one step at a time, in words that carry
 * every argument value as the single-turn query writer phrases them (queryWriter.clauseFor), so the
 * assistant can read them back. Its state is the transcript: the next step is the one after the
 * highest step it has asked about; an assistant question is answered ("clarify") with the values the
 * user left out; now and then ("change", userChangeOfMindRate) it asks again for an earlier step with
 * one value changed; it leaves a required value out of a request at missingParameterRate (only when
 * the case carries the tools, which say what is required); it says "done" when every step has been
 * asked for, when the turns run out, or (userEarlyStopRate, decided once per dialogue) early.
 * Wording varies with the style (openers, closers) and the persona (the first request may introduce
 * it). Deterministic for a given case.
 */
import { dialoguePlanSchema, type DialoguePlan, type PlanStep, type UserTurn, type UserView } from "../../../dialogue/protocol.js";
import type { SeededRandom } from "../../../util/random.js";
import { clauseFor, type SimTool } from "../queryWriter.js";
import { identifierWords, joinList, literal } from "../text.js";
import { isObject, propertiesOf, requiredOf, simToolsOf } from "./cases.js";
import { otherValue } from "./faults.js";
import type { DialogueSimOptions } from "./options.js";
import { RESULT_REFERENCE } from "./planner.js";
import { dialogueRng } from "./streams.js";

export interface UserCase {
  plan: DialoguePlan;
  persona: string;
  style: string;
  transcript: UserView[];
  turn: number;
  maxTurns: number;
  /** The offered tools (optional in the protocol): without them the user never leaves a required value out. */
  tools: SimTool[];
}

export function parseUserCase(c: Record<string, unknown>): UserCase | undefined {
  const plan = dialoguePlanSchema.safeParse(c.plan);
  if (!plan.success) return undefined;
  // A user view without its step (the field is optional) is taken as the step after the previous
  // one, or the same step when it answers a question.
  let previous = -1;
  const transcript = (Array.isArray(c.transcript) ? c.transcript : []).filter(isObject).map((v, i, all): UserView => {
    const role = v.role === "user" ? "user" : "assistant";
    const content = typeof v.content === "string" ? v.content : "";
    if (role === "assistant") return { role, content };
    const before = all[i - 1];
    const answersQuestion = isObject(before) && before.role !== "user" && typeof before.content === "string" && before.content.includes("?");
    const step = typeof v.step === "number" && Number.isInteger(v.step) && v.step >= 0 ? v.step : answersQuestion ? Math.max(0, previous) : previous + 1;
    previous = Math.max(previous, step);
    return { role, content, step };
  });
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  return {
    plan: plan.data,
    persona: typeof c.persona === "string" ? c.persona : "",
    style: typeof c.style === "string" ? c.style : "",
    transcript,
    turn: num(c.turn, transcript.filter((v) => v.role === "user").length),
    maxTurns: num(c.maxTurns, 15),
    tools: simToolsOf(c.tools),
  };
}

interface StyleWords {
  open: readonly string[];
  close: readonly string[];
  done: readonly string[];
  clarify: readonly string[];
  change: readonly string[];
}

const GENERIC: StyleWords = {
  open: ["", "Next thing.", "One more request."],
  close: ["", "Thanks."],
  done: ["That's everything, thanks.", "Great, that's all I needed.", "All done, thank you."],
  clarify: ["Sorry, I forgot to say:", "Right, here it is:", "Of course:"],
  change: ["Actually, I changed my mind about something earlier.", "On second thought, let me redo an earlier request."],
};

/** Style keywords and their wording; the first whose pattern matches the style wins. */
const STYLES: [RegExp, StyleWords][] = [
  [
    /terse|brief|short/i,
    { open: [""], close: [""], done: ["Done. Thanks.", "That's all."], clarify: ["", "Here:"], change: ["Actually, I changed my mind. Redo an earlier one."] },
  ],
  [
    /chatty|talkative|friendly/i,
    {
      open: ["Hi again! Okay, so here's the next thing.", "Oh, and there's one more thing I've been meaning to ask.", "Okay, this is going great so far."],
      close: ["Thanks so much, you're a lifesaver!", "That would be amazing, thank you!"],
      done: ["That's everything for today, thank you so much, this was really helpful!", "Wonderful, I think that's all I needed. Thanks a lot!"],
      clarify: ["Oh, sorry, I totally forgot to mention it:", "Oops, my bad, here you go:"],
      change: ["Oh wait, actually, I changed my mind about something I asked earlier.", "Hmm, on second thought, let me change one of my earlier requests."],
    },
  ],
  [
    /formal|polite/i,
    {
      open: ["Good day.", "I would appreciate your assistance with the following."],
      close: ["Thank you kindly.", "I appreciate your help."],
      done: ["That concludes my requests. Thank you for your assistance.", "That will be all, thank you."],
      clarify: ["My apologies for the omission:", "Certainly. To complete my request:"],
      change: ["I must revise an earlier request, as I changed my mind.", "On reflection, I changed my mind about an earlier request."],
    },
  ],
  [
    /casual|relaxed|informal/i,
    {
      open: ["Hey.", "Ok cool.", "Alright, next up."],
      close: ["Thx!", "Cheers."],
      done: ["Cool, that's all, thanks!", "Sweet, I'm done. Thanks!"],
      clarify: ["Oh yeah, right:", "Sure thing:"],
      change: ["Actually, changed my mind on an earlier one.", "Wait, on second thought, let me redo something."],
    },
  ],
  [
    /precise|exact|careful/i,
    {
      open: ["Next request, with exact values.", "Here is the next task."],
      close: ["Please use exactly these values.", ""],
      done: ["That completes the list. Thank you.", "All items are covered. Thank you."],
      clarify: ["To be precise:", "The exact value is:"],
      change: ["Correction: I changed my mind about an earlier request.", "I changed my mind: one earlier value must change."],
    },
  ],
  [
    /uncertain|unsure|hesitant|thinks aloud/i,
    {
      open: ["Hmm, let me think.", "Okay, so, I think I also need this.", "Right, what else was there."],
      close: ["I think that's right.", "At least I hope so."],
      done: ["Hmm, I think that's everything, actually. Thanks.", "I believe that's all. Thank you."],
      clarify: ["Oh, right, I think it's this:", "Let me check. Yes:"],
      change: ["Hmm, actually, I changed my mind about something earlier.", "Wait, on second thought, I think an earlier request was wrong."],
    },
  ],
];

function styleWords(style: string): StyleWords {
  return STYLES.find(([re]) => re.test(style))?.[1] ?? GENERIC;
}

/** A change message opens with one of the change lines (how the user recognises its own changes). */
const CHANGED = /\b(changed my mind|on second thought|on reflection|correction:)/i;

const LINKS = ["Also, ", "And ", "On top of that, "] as const;

function words(name: string): string {
  return identifierWords(name).join(" ");
}

function lowerFirst(s: string): string {
  if (/^I\b/.test(s)) return s;
  return s.length > 0 ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function join(...parts: string[]): string {
  return parts
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .join(" ");
}

function toolFor(c: UserCase, name: string): SimTool {
  return c.tools.find((t) => t.name === name) ?? { name, description: "", parameters: { type: "object", properties: {} } };
}

/** The sentences asking for a step's calls: one clause per call, a dependent call naming the value it takes from the result. */
export function stepRequest(rng: SeededRandom, c: UserCase, step: PlanStep, omit?: { call: number; param: string }): string {
  return step.calls
    .map((call, i) => {
      const tool = toolFor(c, call.name);
      const args: Record<string, unknown> = {};
      let fromResult: string | undefined;
      for (const [k, v] of Object.entries(call.arguments)) {
        if (v === RESULT_REFERENCE) fromResult = k;
        else if (!(omit && omit.call === i && omit.param === k)) args[k] = v;
      }
      let clause = clauseFor(rng, tool, args);
      if (fromResult !== undefined) {
        const verb = clause.includes(", using ") ? "taking" : "using";
        clause = `${clause.replace(/[.?!]+$/, "")}, ${verb} the ${words(fromResult)} from that result.`;
      }
      if (i === 0) return clause;
      return (step.need === "multi" ? "Then " : rng.pick(LINKS)) + lowerFirst(clause);
    })
    .join(" ");
}

/** Whether the user's texts give `param` the value `value` (the way clauseFor phrases it). */
function said(texts: readonly string[], param: string, value: unknown): boolean {
  const w = words(param);
  const lit = literal(value);
  return texts.some((t) => ["", " =", ":", " set to", " of"].some((conn) => t.includes(`${w}${conn} ${lit}`)));
}

function isQuestion(v: UserView | undefined): boolean {
  return v?.role === "assistant" && v.content.includes("?");
}

function reply(message: string, action: UserTurn["action"], step: number): UserTurn {
  return { message, action, step: Math.max(0, step) };
}

export function userTurn(seed: number, c: UserCase, rates: Required<DialogueSimOptions>): UserTurn {
  const rng = dialogueRng("user", seed, c);
  const faults = dialogueRng("user-fault", seed, c);
  const style = styleWords(c.style);
  const steps = c.plan.steps;
  const mine = c.transcript.filter((v) => v.role === "user");
  const asked = mine.filter((v) => v.step !== undefined).map((v) => v.step!);
  const nextStep = asked.length > 0 ? Math.max(...asked) + 1 : 0;
  const last = c.transcript.at(-1);
  const lastStep = mine.at(-1)?.step ?? Math.max(0, nextStep - 1);
  const done = () => reply(rng.pick(style.done), "done", Math.min(lastStep, steps.length - 1));

  if (c.turn >= c.maxTurns) return done();

  // The assistant asked something about the last step: give what was left out (at most a few times).
  if (isQuestion(last) && mine.length > 0 && lastStep < steps.length) {
    let questions = 0;
    for (let i = c.transcript.length - 1; i >= 0; i--) {
      const v = c.transcript[i]!;
      if (v.role === "user" && v.step !== lastStep) break;
      if (isQuestion(v)) questions++;
    }
    if (questions <= 2) {
      const step = steps[lastStep]!;
      const texts = mine.filter((v) => v.step === lastStep).map((v) => v.content);
      const missing: string[] = [];
      for (const call of step.calls)
        for (const [k, v] of Object.entries(call.arguments)) if (v !== RESULT_REFERENCE && !said(texts, k, v)) missing.push(`${words(k)} ${literal(v)}`);
      const message = missing.length > 0 ? join(rng.pick(style.clarify), `${joinList(missing)}.`) : "Yes, please go ahead with exactly what I asked.";
      return reply(message, "clarify", lastStep);
    }
  }

  const dialogue = dialogueRng("user-dialogue", seed, { plan: c.plan, persona: c.persona, style: c.style });
  const stopsEarly = dialogue.chance(rates.userEarlyStopRate);
  const stopAt = dialogue.int(1, Math.max(1, steps.length - 1));
  // Per-turn draws happen in a fixed order whatever is decided, so one rate never moves another's.
  const changes = faults.chance(rates.userChangeOfMindRate);
  const leavesOut = faults.chance(rates.missingParameterRate);

  if (nextStep >= steps.length || (stopsEarly && nextStep >= stopAt)) return done();

  if (changes && nextStep > 0 && last?.role === "assistant") {
    const changed = new Set(mine.filter((v) => CHANGED.test(v.content)).map((v) => v.step));
    const options = steps
      .map((s, j) => ({ s, j }))
      .filter(({ s, j }) => j < nextStep && !changed.has(j) && s.calls.some((call) => Object.values(call.arguments).some((v) => v !== RESULT_REFERENCE)));
    if (options.length > 0) {
      const { s, j } = faults.pick(options);
      const callIndex = faults.pick(s.calls.map((call, i) => i).filter((i) => Object.values(s.calls[i]!.arguments).some((v) => v !== RESULT_REFERENCE)));
      const call = s.calls[callIndex]!;
      const key = faults.pick(Object.keys(call.arguments).filter((k) => call.arguments[k] !== RESULT_REFERENCE));
      const schema = propertiesOf(toolFor(c, call.name))[key] ?? {};
      const value = otherValue(faults, schema, key, call.arguments[key]);
      if (value !== undefined) {
        const revised: PlanStep = { ...s, calls: s.calls.map((x, i) => (i === callIndex ? { ...x, arguments: { ...x.arguments, [key]: value } } : x)) };
        return reply(join(rng.pick(style.change), stepRequest(rng, c, revised)), "change", j);
      }
    }
  }

  const step = steps[nextStep]!;
  let omit: { call: number; param: string } | undefined;
  if (leavesOut) {
    const candidates = step.calls.flatMap((call, i) =>
      requiredOf(toolFor(c, call.name))
        .filter((p) => Object.hasOwn(call.arguments, p) && call.arguments[p] !== RESULT_REFERENCE)
        .map((param) => ({ call: i, param })),
    );
    if (candidates.length > 0) omit = faults.pick(candidates);
  }
  const intro =
    nextStep === 0 && mine.length === 0 && c.persona && rng.chance(0.5) ? `As ${c.persona.replace(/[.!?]+$/, "")}, I have a few things to sort out.` : "";
  const message = join(intro || rng.pick(style.open), stepRequest(rng, c, step, omit), rng.pick(style.close));
  return reply(message, "request", nextStep);
}
