/**
 * Paraphrases of earlier pool members among the seeds a selection may take: a new seed whose user
 * query is a near duplicate (word-shingle Jaccard >= the pool's `nearDuplicate.threshold`) of a sample
 * an earlier pool held would teach the same request again under another wording, which the exact
 * check (EarlierPoolIndex) cannot see. Samples cut from one dialogue are never each other's near
 * duplicates, as within a pool.
 *
 * The index is built over the candidates (the seeds loaded so far) and the earlier pools are streamed
 * past it page by page, so memory holds the candidates' shingle sets, never the earlier pools' rows or
 * signatures, however long the lineage. Each candidate records its most similar earlier member; of
 * equally similar ones, the one EarlierPoolIndex would name (fed first, else the earlier pool, else
 * the smaller id), so the result does not depend on page order within a campaign.
 *
 * When the selection loads more seeds, the earlier pools are not read again: the first pass keeps
 * what this check needs of each member (EarlierQueryCache: id, user query, dialogue, pool) up to a
 * fixed size, and only the members past that size are streamed from the database once more.
 */
import type { ChatMessage } from "../domain/types.js";
import { NearDuplicateIndex } from "../dedupe/nearDuplicate.js";
import type { Candidate, EarlierPoolMember } from "./nextRound.js";
import { userQueryOf } from "./signature.js";

/** The earlier pool member a candidate paraphrases, with their queries' similarity. */
export interface EarlierNearMatch extends EarlierPoolMember {
  similarity: number;
}

export class EarlierNearDuplicates {
  private readonly index: NearDuplicateIndex<string>;
  private readonly dialogueOf = new Map<string, string>();
  /** Candidate id -> its most similar earlier member at or above the threshold. */
  readonly matches = new Map<string, EarlierNearMatch>();

  /** Candidates indexed (those with words in their query). */
  get size(): number {
    return this.index.size;
  }

  constructor(options: { threshold: number; shingleSize?: number }) {
    this.index = new NearDuplicateIndex<string>(options.threshold, options.shingleSize);
  }

  /** Candidates to check against the earlier members scanned after this. */
  addCandidates(candidates: readonly Pick<Candidate, "id" | "messages" | "dialogueId">[]): void {
    for (const c of candidates) {
      this.index.add(c.id, userQueryOf(c.messages));
      if (c.dialogueId !== undefined) this.dialogueOf.set(c.id, c.dialogueId);
    }
  }

  /** One earlier pool member: each candidate it paraphrases records it unless a better match is recorded. */
  scan(earlier: { id: string; messages: ChatMessage[]; dialogueId?: string | null }, pool: { campaignId: string; iteration: number }): void {
    if (this.index.size === 0) return; // no seeds to check: spare the earlier member's signature
    this.scanQuery({ id: earlier.id, query: userQueryOf(earlier.messages), dialogueId: earlier.dialogueId ?? null }, pool);
  }

  /** `scan` of a member whose user query is already known (an EarlierQueryCache entry). */
  scanQuery(earlier: { id: string; query: string; dialogueId: string | null }, pool: { campaignId: string; iteration: number }): void {
    if (this.index.size === 0) return;
    const eligible = (candidateId: string) => {
      if (candidateId === earlier.id) return false; // the member itself, offered again
      const dialogue = this.dialogueOf.get(candidateId);
      return dialogue === undefined || dialogue !== earlier.dialogueId;
    };
    for (const hit of this.index.findAll(earlier.query, eligible)) {
      const had = this.matches.get(hit.key);
      const match = { sampleId: earlier.id, campaignId: pool.campaignId, iteration: pool.iteration, similarity: hit.similarity };
      if (
        !had ||
        match.similarity > had.similarity ||
        (match.similarity === had.similarity &&
          had.campaignId === match.campaignId &&
          (match.iteration < had.iteration || (match.iteration === had.iteration && match.sampleId < had.sampleId)))
      )
        this.matches.set(hit.key, match);
    }
  }
}

/** What the paraphrase check needs of one earlier pool member. */
export interface EarlierQuery {
  id: string;
  query: string;
  dialogueId: string | null;
  campaignId: string;
  iteration: number;
}

/** Where a pass over the lineage's earlier pools (in their order) resumes: the round, and the last sample id read in it. */
export interface EarlierPoolPosition {
  round: number;
  afterId?: string;
}

/** Estimated bytes the cache may hold (the queries' text and ids; a page of earlier rows is of this order). */
export const EARLIER_QUERY_CACHE_BYTES = 64 * 1024 * 1024;

/**
 * The earlier pool members' queries kept from the first pass over the earlier pools, in the order
 * they were read, up to about `maxBytes`: once one does not fit, none after it is kept, and
 * `resumeAt` says where the members not kept start (the pass's order is the check's tie-break, so a
 * later check reads the kept ones, then the rest from there, in the same order).
 */
export class EarlierQueryCache {
  readonly members: EarlierQuery[] = [];
  private bytes = 0;
  private last: EarlierPoolPosition = { round: 0 };
  private full = false;

  constructor(private readonly maxBytes = EARLIER_QUERY_CACHE_BYTES) {}

  /** Keeps a member read from round `round` of the pass; false once the cache is full (from then on for every member). */
  add(member: EarlierQuery, round: number): boolean {
    if (this.full) return false;
    // UTF-16 text plus a rough per-entry overhead (object, array slot); the campaign id string is shared by its round's rows.
    const size = 2 * (member.id.length + member.query.length + (member.dialogueId?.length ?? 0)) + 96;
    if (this.bytes + size > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.bytes += size;
    this.members.push(member);
    this.last = { round, afterId: member.id };
    return true;
  }

  /** Where the members not kept start; undefined when every member read was kept. */
  get resumeAt(): EarlierPoolPosition | undefined {
    return this.full ? this.last : undefined;
  }
}
