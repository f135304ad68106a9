export { campaignWorkflow } from "./campaign.js";
export { iterationWorkflow } from "./iteration.js";
