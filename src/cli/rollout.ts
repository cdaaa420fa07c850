import { parseArgs } from "node:util";
import { ClusterClient } from "../apply/index.js";
import { InvalidInputError, NotFoundError } from "../core/errors.js";
import { APPROVE_ANNOTATION, RETRY_ANNOTATION, ROLLOUT_API_VERSION, type RolloutObject } from "../rollout/index.js";
import { formatRollout, rolloutSettled } from "../status/index.js";
import { readKubeconfig } from "./status.js";

const VERBS = ["status", "pause", "resume", "approve", "retry"] as const;
type Verb = (typeof VERBS)[number];

/**
 * `flotilla rollout status|pause|resume|approve|retry ENV`: reads or steers an environment's
 * Rollout (named after the environment) by patching it, as kubectl can:
 *   pause/resume  kubectl patch rollout ENV --type merge -p '{"spec":{"suspend":true}}'
 *   approve       kubectl annotate rollout ENV flotilla.dev/approve=<wave>@<target revision> --overwrite
 *   retry         kubectl annotate rollout ENV flotilla.dev/retry="$(date -u +%FT%TZ)" --overwrite
 * Exit: status 0 when every wave is through, 1 otherwise; the others 0 once written.
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: { type: "string", short: "n" },
      wave: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const [verb, env, ...rest] = positionals;
  if (!verb || !VERBS.includes(verb as Verb))
    throw new InvalidInputError(`expected one of ${VERBS.join(", ")}, not '${verb ?? ""}'`, { field: "rollout" });
  if (!env || rest.length)
    throw new InvalidInputError(`flotilla rollout ${verb} takes one environment (the Rollout's name), e.g. prod`, {
      field: "ENV",
    });
  const client = ClusterClient.fromKubeconfig(readKubeconfig(values.kubeconfig), {
    timeoutMs: 15_000,
    retries: 3,
    retryForMs: 5_000,
  });
  try {
    const r = await findRollout(client, env, values.namespace);
    const path = `/apis/${ROLLOUT_API_VERSION}/namespaces/${r.metadata.namespace}/rollouts/${r.metadata.name}`;
    const patch = (body: object) =>
      client.request("PATCH", path, body, { contentType: "application/merge-patch+json" });
    switch (verb as Verb) {
      case "status":
        process.stdout.write(
          values.json
            ? `${JSON.stringify({ metadata: r.metadata, spec: r.spec, status: r.status ?? {} }, null, 2)}\n`
            : formatRollout(r),
        );
        return rolloutSettled(r) ? 0 : 1;
      case "pause":
      case "resume":
        await patch({ spec: { suspend: verb === "pause" } });
        process.stdout.write(
          `Rollout ${r.metadata.namespace}/${r.metadata.name} ${verb === "pause" ? "paused: clusters already started finish, nothing new starts" : "resumed"}\n`,
        );
        return 0;
      case "approve": {
        const wave = values.wave ?? r.status?.activeWave;
        const target = r.status?.targetRevision;
        if (!wave || !target)
          throw new InvalidInputError(
            `Rollout ${r.metadata.namespace}/${r.metadata.name} has no revision waiting for approval yet`,
            {
              object: `Rollout/${r.metadata.namespace}/${r.metadata.name}`,
              field: "status.targetRevision",
            },
          );
        await patch({ metadata: { annotations: { [APPROVE_ANNOTATION]: `${wave}@${target}` } } });
        process.stdout.write(`approved wave ${wave} for ${target}\n`);
        return 0;
      }
      case "retry":
        await patch({ metadata: { annotations: { [RETRY_ANNOTATION]: new Date().toISOString() } } });
        process.stdout.write(
          `Rollout ${r.metadata.namespace}/${r.metadata.name}: retry requested${r.status?.halted ? ` (halted: ${r.status.halted})` : ""}\n`,
        );
        return 0;
    }
  } finally {
    client.close();
  }
}

/** The Rollout named ENV: in --namespace, else the only one of that name in any namespace. */
async function findRollout(client: ClusterClient, name: string, namespace: string | undefined): Promise<RolloutObject> {
  const base = `/apis/${ROLLOUT_API_VERSION}`;
  if (namespace) {
    const res = await client.request<RolloutObject>(
      "GET",
      `${base}/namespaces/${namespace}/rollouts/${name}`,
      undefined,
      { allow: [404] },
    );
    if (res.status === 404)
      throw new NotFoundError(`no Rollout '${name}' in namespace '${namespace}'`, {
        object: `Rollout/${namespace}/${name}`,
      });
    return res.body;
  }
  const res = await client.request<{ items: RolloutObject[] }>(
    "GET",
    `${base}/rollouts?fieldSelector=metadata.name%3D${encodeURIComponent(name)}`,
    undefined,
    { allow: [404] },
  );
  if (res.status === 404)
    throw new NotFoundError("the management cluster does not serve flotilla.dev Rollouts: install deploy/crds", {
      object: `Rollout/${name}`,
    });
  const items = res.body.items ?? [];
  if (items.length === 0)
    throw new NotFoundError(`no Rollout '${name}': declare rollouts.${name} in flotilla.yaml, or a Rollout object`, {
      object: `Rollout/${name}`,
    });
  if (items.length > 1)
    throw new InvalidInputError(
      `Rollouts named '${name}' in ${items.map((i) => i.metadata.namespace).join(", ")}: pass --namespace`,
      {
        field: "--namespace",
      },
    );
  return { ...items[0]!, apiVersion: ROLLOUT_API_VERSION, kind: "Rollout" };
}
