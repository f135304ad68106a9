/**
 * Maximum bipartite matching (Kuhn's augmenting paths) over a pass/fail matrix:
 * ok[e][m] says whether model call m satisfies expected call e. Returns, for each expected call,
 * the matched model call index or -1. Sizes here are tiny (parallel calls), so O(V*E) is plenty.
 */
export function maxBipartiteMatching(ok: boolean[][], modelCount: number): number[] {
  const matchOfModel: number[] = new Array<number>(modelCount).fill(-1);
  const tryAssign = (e: number, seen: boolean[]): boolean => {
    const row = ok[e] ?? [];
    for (let m = 0; m < modelCount; m++) {
      if (!row[m] || seen[m]) continue;
      seen[m] = true;
      const holder = matchOfModel[m]!;
      if (holder === -1 || tryAssign(holder, seen)) {
        matchOfModel[m] = e;
        return true;
      }
    }
    return false;
  };
  for (let e = 0; e < ok.length; e++) tryAssign(e, new Array<boolean>(modelCount).fill(false));
  const matchOfExpected: number[] = new Array<number>(ok.length).fill(-1);
  matchOfModel.forEach((e, m) => {
    if (e >= 0) matchOfExpected[e] = m;
  });
  return matchOfExpected;
}
