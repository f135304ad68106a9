import { isDict } from "./pyValue.js";

/**
 * A model call in the matcher's working form: the function name and the arguments as two parallel
 * arrays, in the order the model wrote them (Python's dict order).
 *
 * Why not `{name: {param: value}}` objects: V8 gives every distinct key set its own hidden class,
 * and model outputs have thousands of them. Reading such objects makes the checker's property
 * loads megamorphic and stalls on cold class metadata (maps, descriptor arrays, enum caches) for
 * each output. Every MatchCall has one shape and its arrays share the array maps, so the checker's
 * loads stay monomorphic and each output costs only its own data.
 */
export class MatchCall {
  constructor(
    readonly name: string,
    readonly argNames: readonly string[],
    readonly argValues: readonly unknown[],
  ) {}

  /** From a `{param: value}` object (own enumerable keys in JS order). */
  static fromArgs(name: string, args: Record<string, unknown>): MatchCall {
    const names: string[] = [];
    const values: unknown[] = [];
    for (const k in args) {
      if (!Object.prototype.hasOwnProperty.call(args, k)) continue;
      names.push(k);
      values.push(args[k]);
    }
    return new MatchCall(name, names, values);
  }

  /** Position of an argument, or -1 (argument lists are short: a scan beats hashing). */
  indexOf(param: string): number {
    const names = this.argNames;
    for (let i = 0; i < names.length; i++) if (names[i] === param) return i;
    return -1;
  }

  /** The arguments as a plain object (for messages and callers that want BFCL's shape). */
  argsObject(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < this.argNames.length; i++)
      Object.defineProperty(out, this.argNames[i]!, { value: this.argValues[i], enumerable: true, writable: true, configurable: true });
    return out;
  }
}

/** A list parseBfclResult built (every item a MatchCall; the empty list too). */
function isMatchCallList(list: unknown[]): list is MatchCall[] {
  for (let i = 0; i < list.length; i++) if (!(list[i] instanceof MatchCall)) return false;
  return true;
}

/**
 * BFCL's is_function_calling_format_output: a list whose items are objects with exactly one key
 * whose value is an object. Returns the calls as MatchCalls when it holds (a list parseBfclResult
 * built is returned as it is), else undefined.
 */
export function bfclCallsFromValue(result: unknown): MatchCall[] | undefined {
  if (!Array.isArray(result)) return undefined;
  if (isMatchCallList(result)) return result;
  const calls: MatchCall[] = new Array(result.length);
  for (let i = 0; i < result.length; i++) {
    const item: unknown = result[i];
    if (!isDict(item)) return undefined;
    let n = 0;
    let name = "";
    let args: unknown;
    for (const k in item) {
      n++;
      name = k;
      args = item[k];
    }
    if (n !== 1 || !isDict(args)) return undefined;
    calls[i] = MatchCall.fromArgs(name, args);
  }
  return calls;
}
