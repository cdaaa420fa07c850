import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { NotFoundError } from "../../core/errors.js";

export interface Binaries {
  dir: string;
  etcd: string;
  apiserver: string;
  controllerManager?: string;
  scheduler?: string;
}

const SCRIPT = join(import.meta.dirname, "install-binaries.sh");

function inDir(dir: string): Binaries | undefined {
  const at = (n: string) => (existsSync(join(dir, n)) ? join(dir, n) : undefined);
  const etcd = at("etcd");
  const apiserver = at("kube-apiserver");
  if (!etcd || !apiserver) return undefined;
  const controllerManager = at("kube-controller-manager");
  const scheduler = at("kube-scheduler");
  return {
    dir,
    etcd,
    apiserver,
    ...(controllerManager ? { controllerManager } : {}),
    ...(scheduler ? { scheduler } : {}),
  };
}

/**
 * etcd, kube-apiserver, kube-controller-manager and kube-scheduler: from KUBEBUILDER_ASSETS (the
 * envtest convention), else the cached build under ~/.cache/flotilla/bin, else built now from
 * Debian's packages by install-binaries.sh (about 6 minutes on 2 cores, once).
 */
export async function findBinaries(): Promise<Binaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    const found = inDir(assets);
    if (found) return found;
  }
  const cached = inDir(join(process.env.FLOTILLA_CACHE ?? join(homedir(), ".cache", "flotilla"), "bin"));
  if (cached?.controllerManager && cached.scheduler) return cached;
  const script = SCRIPT.replace(`${join("dist", "src")}`, "src");
  const { stdout } = await promisify(execFile)("bash", [existsSync(script) ? script : SCRIPT], {
    maxBuffer: 64 << 20,
  }).catch((error: { stderr?: string }) => {
    throw new NotFoundError(
      `could not provide the Kubernetes binaries: ${(error.stderr ?? "").trim().split("\n").slice(-3).join(" ")}`,
      {
        field: "KUBEBUILDER_ASSETS",
      },
    );
  });
  const built = inDir(stdout.trim().split("\n").pop() ?? "");
  if (!built)
    throw new NotFoundError("install-binaries.sh did not produce etcd and kube-apiserver", {
      field: "KUBEBUILDER_ASSETS",
    });
  return built;
}
