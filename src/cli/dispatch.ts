import { describeError, isFlotillaError } from "../core/errors.js";

/**
 * `flotilla <command> …`. Each command lives in its own file and is loaded only when asked for,
 * so `flotilla render` never pays for the Kubernetes client's start-up.
 * A command returns its exit code: 0 success, 1 differences / not ready, 2 error.
 */
type Command = { run(args: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; usage: string; load: () => Promise<Command> }> = {
  render: {
    summary: "render a path as `kubectl kustomize` / `flux build` would",
    usage: "render PATH [--root DIR] [--substitute NAME=value]... [--json]",
    load: () => import("./render.js"),
  },
  diff: {
    summary: "what a branch changes, per cluster and unit (offline, from git alone; --live: against a cluster)",
    usage:
      "diff [--repo DIR|URL] --base REF --head REF [--format text|md|json] [--cluster NAME]...\n       flotilla diff --live --kubeconfig FILE [--cluster NAME] [--head REF] [--format text|md|json]",
    load: () => import("./diff.js"),
  },
  "release-notes": {
    summary: "release notes between two tags from commit titles, with per-cluster impact; --next suggests the version",
    usage: "release-notes FROM..TO [--repo DIR] [--format md|json]\n       flotilla release-notes --next [--repo DIR]",
    load: () => import("./release-notes.js"),
  },
  "lint-commits": {
    summary: "check commit titles against `type(scope): subject (#PR)`",
    usage: "lint-commits BASE..HEAD [--repo DIR] [--json]",
    load: () => import("./lint-commits.js"),
  },
  promote: {
    summary: "a branch and commit that move an environment's release ref to TAG (--push opens the PR)",
    usage: "promote TAG [--repo DIR] [--env prod] [--push] [--remote-branch NAME] [--json]",
    load: () => import("./promote.js"),
  },
  controller: {
    summary:
      "reconcile GitRepository and Kustomization objects on the management cluster (--repo puts a repository's fleet there)",
    usage:
      "controller [--kubeconfig FILE] [--repo URL] [--concurrent 10] [--cache-dir DIR] [--listen :8080] [--create-namespaces]\n" +
      "         [--default-service-account NAME] [--no-cross-namespace-refs] [--allow-insecure-http] [--allow-exec-kubeconfigs]\n" +
      "         [--lease-namespace NS [--replica-id ID] [--lease-duration 15s] [--renew-deadline 10s] [--retry-period 2s]]\n" +
      "         [--watch-label-selector SEL] [--max-refs-size 32Mi] [--max-file-size 16Mi] [--max-artifact-size 100Mi]\n" +
      "         [--max-render-objects 20000] [--max-render-size 64Mi] [--render-timeout 30s] [--render-memory 256Mi]",
    load: () => import("./controller.js"),
  },
  up: {
    summary: "the whole product on one machine: local management cluster, local provider, reconcile loop",
    usage:
      "up [--repo DIR|URL] [--kubeconfig-out FILE] [--once] [--timeout 10m] [--no-stand-in] [--no-create-namespaces]",
    load: () => import("./up.js"),
  },
  plan: {
    summary: "the fleet's units (GitRepository and Kustomization objects) from the repository",
    usage: "plan [--repo DIR|URL] [--ref REF] [--json] [--no-infer]",
    load: () => import("./plan.js"),
  },
  rollout: {
    summary: "an environment's waves (status), or steer them: pause, resume, approve a manual wave, retry after a halt",
    usage: "rollout status|pause|resume|approve|retry ENV [--kubeconfig FILE] [--namespace NS] [--wave NAME] [--json]",
    load: () => import("./rollout.js"),
  },
  status: {
    summary:
      "every unit (NAMESPACE NAME CLUSTER READY STATUS AGE) and cluster on the management cluster; exit 1 unless all Ready",
    usage: "status [--kubeconfig FILE] [--json] [--watch]",
    load: () => import("./status.js"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: flotilla <command> [options]\n\ncommands:\n${lines.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`flotilla: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`usage: flotilla ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  try {
    return await (await command.load()).run(args);
  } catch (error) {
    process.stderr.write(`flotilla ${name}: ${describeError(error)}\n`);
    if (!isFlotillaError(error) && process.env.FLOTILLA_DEBUG) console.error(error);
    return 2;
  }
}
