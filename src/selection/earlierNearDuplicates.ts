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
    const eligible = (candidateId: string) => {
      if (candidateId === earlier.id) return false; // the member itself, offered again
      const dialogue = this.dialogueOf.get(candidateId);
      return dialogue === undefined || dialogue !== earlier.dialogueId;
    };
    for (const hit of this.index.findAll(userQueryOf(earlier.messages), eligible)) {
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
