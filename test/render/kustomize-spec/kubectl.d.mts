/** See kubectl.mjs: `kubectl kustomize <build>` run in a case's `in/` folder. */
export function kubectlKustomize(caseDir: string, build: string, flags?: string[]): Promise<{ ok: true; output: string } | { ok: false; error: string }>;
