/** What a BFCL score produced by the toolloop LLM simulator is, wherever one is stored or shown. */
export const SIMULATED_SCORE_NOTE = "SIMULATED: the policy answering was the toolloop LLM simulator (scripted, not a model); this number measures no model";
