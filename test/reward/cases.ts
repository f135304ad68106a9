/**
 * The reward table shared by the scorer's unit test and the Python shim's parity test: each case
 * is a config, one sample as verl passes it, and the reward worked out by hand (default weights
 * 0.2 / 0.6 / 0.2; the rules scorer with minChars 20).
 */
import { rewardConfigSchema, type RewardConfig, type RewardConfigInput } from "../../src/reward/config.js";
import type { RewardItem } from "../../src/reward/score.js";

export const TOOLS = JSON.stringify([
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Weather forecast for a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" }, days: { type: "integer" }, units: { type: "string", enum: ["metric", "imperial"] } },
        required: ["city"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "book_hotel",
      description: "Book a hotel room",
      parameters: {
        type: "object",
        properties: { city: { type: "string" }, nights: { type: "integer" }, tags: { type: "array", items: { type: "string" } } },
        required: ["city", "nights"],
      },
    },
  },
]);

const call = (name: string, args: Record<string, unknown>) => `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;
const truth = (...calls: [string, Record<string, unknown>][]) => JSON.stringify({ calls: calls.map(([name, args]) => ({ name, arguments: args })) });
const weather: [string, Record<string, unknown>] = ["get_weather", { city: "Paris", days: 3 }];
const hotel: [string, Record<string, unknown>] = ["book_hotel", { city: "Paris", nights: 2 }];
const extra = { split: "train", index: 0, sample_id: "s-1", tools: TOOLS };
const item = (solution_str: string, ground_truth: string, extra_info: unknown = extra): RewardItem => ({
  data_source: "toolloop",
  solution_str,
  ground_truth,
  extra_info,
});

export interface RewardCase {
  name: string;
  config: RewardConfig;
  item: RewardItem;
  expected: { score: number; format: number; execution: number; reasoning: number; execution_correct: boolean; reasonIncludes?: string };
}

const cfg = (c: RewardConfigInput = {}) => rewardConfigSchema.parse(c);

/** A tool with an object parameter and a list-of-objects parameter (BFCL types dict and array of dict). */
export const NESTED_TOOLS = JSON.stringify([
  {
    type: "function",
    function: {
      name: "book_flight",
      description: "Book a flight for a passenger",
      parameters: {
        type: "object",
        properties: {
          flight_id: { type: "string" },
          passenger: {
            type: "object",
            properties: { full_name: { type: "string" }, email: { type: "string" }, age: { type: "integer" } },
            required: ["full_name"],
          },
          legs: { type: "array", items: { type: "object", properties: { from: { type: "string" }, to: { type: "string" } } } },
        },
        required: ["flight_id", "passenger"],
      },
    },
  },
]);
const nestedExtra = { split: "train", index: 0, sample_id: "s-2", tools: NESTED_TOOLS };
const flight: [string, Record<string, unknown>] = [
  "book_flight",
  {
    flight_id: "TP238",
    passenger: { full_name: "Maria Santos", email: "maria@example.com", age: 41 },
    legs: [
      { from: "SFO", to: "LIS" },
      { from: "LIS", to: "OPO" },
    ],
  },
];
const flightWith = (change: Record<string, unknown>): [string, Record<string, unknown>] => ["book_flight", { ...flight[1], ...change }];
const WEATHER_REASONING = "The user wants the forecast, so I call get_weather for Paris over 3 days.\n";

export const REWARD_CASES: RewardCase[] = [
  {
    name: "right call with good reasoning",
    config: cfg(),
    item: item(WEATHER_REASONING + call(...weather), truth(weather)),
    expected: { score: 1, format: 1, execution: 1, reasoning: 1, execution_correct: true },
  },
  {
    name: "right call, no reasoning at all",
    config: cfg(),
    item: item(call(...weather), truth(weather)),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "right call, poor reasoning (repeats itself, names nothing)",
    config: cfg(),
    // 4 sentences, 1 distinct: noRepetition 0.25; length 1; tools 0; arguments 0 -> 0.3125.
    item: item("Let me do it. Let me do it. Let me do it. Let me do it.\n" + call(...weather), truth(weather)),
    expected: { score: 0.2 + 0.6 + 0.2 * 0.3125, format: 1, execution: 1, reasoning: 0.3125, execution_correct: true },
  },
  {
    name: "format broken (unterminated JSON in the block)",
    config: cfg(),
    item: item('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"\n</tool_call>', truth(weather)),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "not valid JSON" },
  },
  {
    name: "wrong argument value",
    config: cfg(),
    item: item(WEATHER_REASONING + call("get_weather", { city: "Paris", days: 4 }), truth(weather)),
    expected: { score: 0.2, format: 1, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "execution:" },
  },
  {
    name: "wrong argument value, per-argument credit",
    config: cfg({ partialCredit: "perArgument" }),
    item: item(WEATHER_REASONING + call("get_weather", { city: "Paris", days: 4 }), truth(weather)),
    expected: { score: 0.2 + 0.6 * 0.5, format: 1, execution: 0.5, reasoning: 0, execution_correct: false },
  },
  {
    name: "wrong argument type (a string for an integer), per-argument credit",
    config: cfg({ partialCredit: "perArgument" }),
    item: item(call("get_weather", { city: "Paris", days: "3" }), truth(weather)),
    expected: { score: 0.2 + 0.6 * 0.5, format: 1, execution: 0.5, reasoning: 0, execution_correct: false },
  },
  {
    name: "parallel calls in another order",
    config: cfg(),
    item: item(
      "Weather for Paris over 3 days, and a hotel in Paris for 2 nights: get_weather and book_hotel.\n" + call(...hotel) + "\n" + call(...weather),
      truth(weather, hotel),
    ),
    expected: { score: 1, format: 1, execution: 1, reasoning: 1, execution_correct: true },
  },
  {
    name: "parallel calls in another order, BFCL's greedy matcher",
    config: cfg({ matchMode: "bfcl" }),
    item: item(call(...hotel) + call(...weather), truth(weather, hotel)),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "parallel calls, one wrong, per-call credit",
    config: cfg({ partialCredit: "perCall" }),
    item: item(call("book_hotel", { city: "Paris", nights: 5 }) + call(...weather), truth(weather, hotel)),
    expected: { score: 0.2 + 0.6 * 0.5, format: 1, execution: 0.5, reasoning: 0, execution_correct: false },
  },
  {
    name: "parallel calls, one wrong, per-argument credit",
    config: cfg({ partialCredit: "perArgument" }),
    item: item(call("book_hotel", { city: "Paris", nights: 5 }) + call(...weather), truth(weather, hotel)),
    expected: { score: 0.2 + 0.6 * 0.75, format: 1, execution: 0.75, reasoning: 0, execution_correct: false },
  },
  {
    name: "an extra call costs per-call credit",
    config: cfg({ partialCredit: "perCall" }),
    item: item(call(...weather) + call(...hotel), truth(weather)),
    expected: { score: 0.2 + 0.6 * 0.5, format: 1, execution: 0.5, reasoning: 0, execution_correct: false },
  },
  {
    name: "irrelevance answered with a call",
    config: cfg(),
    item: item(call(...weather), truth()),
    expected: { score: 0.2, format: 1, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "irrelevance" },
  },
  {
    name: "irrelevance answered in text",
    config: cfg(),
    item: item("None of the available tools can book a flight, so I cannot do that for you.", truth()),
    expected: { score: 1, format: 1, execution: 1, reasoning: 1, execution_correct: true },
  },
  {
    name: "text answer where a call was expected",
    config: cfg(),
    item: item("It is probably sunny in Paris.", truth(weather)),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "text answer" },
  },
  {
    name: "binary: right call",
    config: cfg({ kind: "binary" }),
    item: item(call(...weather), truth(weather)),
    expected: { score: 1, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "binary: wrong argument",
    config: cfg({ kind: "binary", partialCredit: "perArgument" }),
    item: item(call("get_weather", { city: "Paris", days: 4 }), truth(weather)),
    expected: { score: 0, format: 1, execution: 0.5, reasoning: 0, execution_correct: false },
  },
  {
    name: "openai template: right call",
    config: cfg({ template: "openai" }),
    item: item(
      JSON.stringify({
        tool_calls: [{ type: "function", function: { name: "get_weather", arguments: JSON.stringify(weather[1]) } }],
        content: "Checking get_weather for Paris, 3 days.",
      }),
      truth(weather),
    ),
    expected: { score: 1, format: 1, execution: 1, reasoning: 1, execution_correct: true },
  },
  {
    name: "openai template: arguments not JSON",
    config: cfg({ template: "openai" }),
    item: item(JSON.stringify({ tool_calls: [{ type: "function", function: { name: "get_weather", arguments: "{city: Paris" } }] }), truth(weather)),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "not valid JSON" },
  },
  {
    name: "auto template reads a Hermes response",
    config: cfg({ template: "auto" }),
    item: item(call(...weather), truth(weather)),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "no tools in extra_info: docs inferred from the ground truth",
    config: cfg(),
    item: item(call(...weather), truth(weather), null),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "ground truth not JSON",
    config: cfg(),
    item: item(call(...weather), "{calls: oops"),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "ground_truth" },
  },
  {
    name: "extra_info.tools not JSON",
    config: cfg(),
    item: item(call(...weather), truth(weather), { tools: "[{" }),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "extra_info.tools" },
  },
  {
    name: "empty response",
    config: cfg(),
    item: item("  \n", truth(weather)),
    expected: { score: 0, format: 0, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "empty" },
  },
  // Object and list-of-object arguments: the ground truth is written as BFCL's checker reads a dict
  // parameter (key by key). Before, the exact answer scored as wrong (value_error:dict_value, or a
  // checker crash for a number inside the object), so GRPO pushed the policy away from right answers.
  {
    name: "object and list-of-object arguments, the exact answer",
    config: cfg(),
    item: item(call(...flight), truth(flight), nestedExtra),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "object argument with its keys in another order",
    config: cfg(),
    item: item(
      call("book_flight", { passenger: { age: 41, email: "maria@example.com", full_name: "Maria Santos" }, legs: flight[1].legs, flight_id: "TP238" }),
      truth(flight),
      nestedExtra,
    ),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "object argument with a number inside, the exact answer",
    config: cfg(),
    item: item(
      call("book_flight", { flight_id: "X1", passenger: { full_name: "Ann Lee", age: 7 } }),
      truth(["book_flight", { flight_id: "X1", passenger: { full_name: "Ann Lee", age: 7 } }]),
      nestedExtra,
    ),
    expected: { score: 0.8, format: 1, execution: 1, reasoning: 0, execution_correct: true },
  },
  {
    name: "object argument with a wrong value inside",
    config: cfg(),
    item: item(call(...flightWith({ passenger: { full_name: "Maria Santos", email: "maria@example.com", age: 42 } })), truth(flight), nestedExtra),
    expected: { score: 0.2, format: 1, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "dict_value" },
  },
  {
    name: "object argument missing a key the ground truth has",
    config: cfg(),
    item: item(call(...flightWith({ passenger: { full_name: "Maria Santos", age: 41 } })), truth(flight), nestedExtra),
    expected: { score: 0.2, format: 1, execution: 0, reasoning: 0, execution_correct: false, reasonIncludes: "dict_key" },
  },
  {
    name: "list-of-object argument with a wrong item, per-argument credit",
    config: cfg({ partialCredit: "perArgument" }),
    item: item(
      call(
        ...flightWith({
          legs: [
            { from: "SFO", to: "LIS" },
            { from: "LIS", to: "FAO" },
          ],
        }),
      ),
      truth(flight),
      nestedExtra,
    ),
    // flight_id and passenger right, legs wrong: 2 of 3.
    expected: { score: 0.2 + 0.6 * (2 / 3), format: 1, execution: 2 / 3, reasoning: 0, execution_correct: false, reasonIncludes: "dict_value" },
  },
];
