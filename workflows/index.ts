export { campaignWorkflow } from "./campaign.js";
export { iterationWorkflow } from "./iteration.js";
export { stageBatchesWorkflow } from "./stageBatches.js";
export { stageJobWorkflow } from "./stageJob.js";
