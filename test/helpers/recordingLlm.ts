/** A stage context's `createLlm` that makes real role clients and records every chat request they send. */
import type { CampaignConfig } from "../../src/config/campaignConfig.js";
import { createRoleClient, type ChatRequest, type LlmClient } from "../../src/llm/client.js";
import type { UsageSink } from "../../src/llm/usage.js";

export function recordingCreateLlm(sent: { role: string; req: ChatRequest }[]) {
  return (cfg: CampaignConfig, role: string, usage: UsageSink): LlmClient => {
    const client = createRoleClient(cfg, role, { usage });
    const chat = client.chat.bind(client);
    client.chat = (req, opts) => {
      sent.push({ role, req });
      return chat(req, opts);
    };
    return client;
  };
}
