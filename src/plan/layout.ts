import { ConflictError } from "../core/errors.js";
import type { FileTree } from "../core/file-tree.js";

/** One workload cluster found in the layout: `providers/<cloud>/<version>/clusters/<env>/<cluster>`. */
export interface ClusterFolder {
  cloud: string;
  version: string;
  env: string;
  name: string;
  path: string;
}

export interface Provider {
  cloud: string;
  version: string;
  /** `providers/<cloud>/<version>` */
  path: string;
  hasMgmt: boolean;
  environments: string[];
}

/** The platform repository's layout: providers, environments, clusters, features and tenants. */
export interface Layout {
  providers: Provider[];
  clusters: ClusterFolder[];
  features: string[];
}

const dirs = (tree: FileTree, path: string): string[] =>
  tree.kind(path) === "dir"
    ? tree.list(path).filter((n) => tree.kind(`${path}/${n}`) === "dir" && !n.startsWith("."))
    : [];

/** Reads the layout of DESIGN.md's conventions; two clusters with one name are an error naming both folders. */
export function readLayout(tree: FileTree): Layout {
  const providers: Provider[] = [];
  const clusters: ClusterFolder[] = [];
  for (const cloud of dirs(tree, "providers")) {
    for (const version of dirs(tree, `providers/${cloud}`)) {
      const path = `providers/${cloud}/${version}`;
      const environments = dirs(tree, `${path}/clusters`);
      providers.push({ cloud, version, path, hasMgmt: tree.kind(`${path}/mgmt`) === "dir", environments });
      for (const env of environments) {
        for (const name of dirs(tree, `${path}/clusters/${env}`)) {
          if (name === "common") continue;
          clusters.push({ cloud, version, env, name, path: `${path}/clusters/${env}/${name}` });
        }
      }
    }
  }
  const seen = new Map<string, ClusterFolder>();
  for (const c of clusters) {
    const other = seen.get(c.name);
    if (other)
      throw new ConflictError(`two clusters are named '${c.name}': ${other.path} and ${c.path}`, { file: c.path });
    seen.set(c.name, c);
  }
  return { providers, clusters, features: dirs(tree, "features") };
}
