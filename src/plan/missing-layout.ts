import { NotFoundError } from "../core/errors.js";
import { FolderWalk, type FileTree } from "../core/file-tree.js";
import type { Layout } from "./layout.js";

const isFluxKustomization = (text: string) =>
  /^apiVersion:\s*["']?kustomize\.toolkit\.fluxcd\.io\//m.test(text) &&
  /^kind:\s*["']?Kustomization["']?\s*$/m.test(text);

/**
 * Refuses a repository with nothing to plan — no `providers/<cloud>/<version>/mgmt` and no
 * `providers/<cloud>/<version>/clusters/<env>/<cluster>` — with one line that says what is missing
 * and, for a plain Flux repository (`clusters/<name>/` bootstrapped per cluster), where its Flux
 * Kustomizations are and where Flotilla reads them. Otherwise the fleet would be silently empty.
 */
export function assertFleetLayout(tree: FileTree, layout: Layout): void {
  if (layout.clusters.length > 0 || layout.providers.some((p) => p.hasMgmt)) return;
  const missing =
    tree.kind("providers") === "dir"
      ? "providers/ has no <cloud>/<version>/mgmt folder and no <cloud>/<version>/clusters/<env>/<cluster> folder"
      : "there is no providers/<cloud>/<version>/{mgmt,clusters/<env>/<cluster>} folder";
  const flux = fluxFolders(tree, 3);
  const hint =
    flux.length > 0
      ? `; Flux Kustomizations under ${flux.join(", ")} look like a repository bootstrapped per cluster: Flotilla runs Flux objects placed under providers/<cloud>/<version>/mgmt, each workload cluster's with kubeConfig.secretRef <cluster>-kubeconfig`
      : "";
  throw new NotFoundError(`no fleet to plan: ${missing}${hint}`, { file: "providers/" });
}

/** Up to `limit` folders outside providers/ whose YAML files hold Flux Kustomizations (not their sub-folders), in tree order. */
function fluxFolders(tree: FileTree, limit: number): string[] {
  const found: string[] = [];
  const folders = new FolderWalk(tree);
  const walk = (dir: string): void => {
    // A folder met again through a symlink (`self -> .`) holds nothing new for a hint.
    if (!folders.enterOnce(dir)) return;
    for (const name of tree.list(dir)) {
      if (found.length >= limit) return;
      const path = dir ? `${dir}/${name}` : name;
      if (name.startsWith(".") || path === "providers") continue;
      const kind = tree.kind(path);
      if (kind === "dir") walk(path);
      else if (
        kind === "file" &&
        /\.ya?ml$/.test(name) &&
        !found.some((f) => dir === f || dir.startsWith(`${f}/`)) &&
        isFluxKustomization(tree.readText(path))
      )
        found.push(dir || ".");
    }
  };
  walk("");
  return found;
}
