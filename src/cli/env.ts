/** Connection settings from the environment, with the local defaults the README uses. */
export interface CliEnv {
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  databaseUrl: string | undefined;
  queuePrefix: string;
}

export function cliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  return {
    temporalAddress: env.TEMPORAL_ADDRESS ?? "127.0.0.1:7233",
    namespace: env.TEMPORAL_NAMESPACE ?? "default",
    uiUrl: (env.TEMPORAL_UI_URL ?? "http://127.0.0.1:8233").replace(/\/$/, ""),
    databaseUrl: env.DATABASE_URL,
    queuePrefix: env.TOOLLOOP_QUEUE_PREFIX ?? "toolloop",
  };
}

export function workflowUiLink(e: CliEnv, workflowId: string): string {
  return `${e.uiUrl}/namespaces/${encodeURIComponent(e.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
