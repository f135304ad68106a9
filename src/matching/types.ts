/** A single decoded tool call: function name plus keyword arguments (Python-like values, see pyValue.ts). */
export interface DecodedCall {
  name: string;
  args: Record<string, unknown>;
}

export type DecodeErrorKind = "empty" | "syntax" | "not_a_call" | "bad_arguments_json" | "unsupported_value";

export type DecodeResult = { ok: true; calls: DecodedCall[] } | { ok: false; error: { kind: DecodeErrorKind; reason: string } };

/** A BFCL function doc (the `function` entries of the data files). Only the fields the checker reads are typed. */
export interface FunctionDoc {
  name: string;
  description?: string;
  parameters: {
    type?: string;
    properties: Record<string, ParamDoc>;
    required?: string[];
  };
  [extra: string]: unknown;
}

export interface ParamDoc {
  type?: string;
  description?: string;
  items?: { type?: string; [extra: string]: unknown };
  properties?: Record<string, ParamDoc>;
  [extra: string]: unknown;
}

/** BFCL possible answer: one object per expected call, `{fname: {param: [acceptable values]}}`; `""` = omittable. */
export type BfclAnswer = Array<Record<string, Record<string, unknown[]>>>;
