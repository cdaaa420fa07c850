import type { FileTree } from "../core/file-tree.js";
import type { GitRepository, InventoryEntry, Kustomization, KustomizationSpec } from "../core/flux.js";
import type { KubeObject } from "../core/object.js";

/**
 * What the reconcilers need from the world, as narrow interfaces: the management cluster, git
 * sources, the renderer and target clusters. The controller wires the real stages in
 * (src/controller/wiring.ts); tests may wire real ones differently (another apiserver, a local repo).
 */

/** A source revision's files. */
export interface SourceArtifact {
  revision: string;
  tree: FileTree;
}

/** Tracks one GitRepository; `poll` is cheap when nothing changed. */
export interface TrackedSource {
  poll(): Promise<{ artifact: SourceArtifact; changed: boolean }>;
}

/** A credentials Secret: its data, and an identity that names the Secret object without deriving anything from its values. */
export interface SecretCredentials {
  data: Record<string, string>;
  /** `namespace/name/uid`: a Secret deleted and made again under the same name is another identity. */
  identity: string;
  /** The Secret's resourceVersion: changes whenever its data may have. */
  version: string;
}

export interface ManagementCluster {
  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  getCredentials(namespace: string, name: string): Promise<SecretCredentials | undefined>;
  getConfigMap(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  patchKustomizationStatus(k: Kustomization, status: NonNullable<Kustomization["status"]>): Promise<void>;
  patchGitRepositoryStatus(g: GitRepository, status: NonNullable<GitRepository["status"]>): Promise<void>;
  event(regarding: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export interface ApplyOutcome {
  inventory: InventoryEntry[];
  /** A one-line summary of what changed (`created 3, configured 1, deleted 2`), empty when nothing did. */
  summary: string;
}

/** A cluster that units are applied to (the management cluster itself or a workload cluster). */
export interface TargetCluster {
  apply(request: {
    unit: { namespace: string; name: string };
    objects: KubeObject[];
    previousInventory: InventoryEntry[];
    prune: boolean;
    wait: boolean;
    force: boolean;
    healthChecks: KustomizationSpec["healthChecks"];
    timeoutMs: number;
    /** Stores the inventory an apply is about to grow to, before it writes (see ApplyRequest). */
    recordIntent?: (inventory: InventoryEntry[]) => Promise<void>;
    /** Hears, while health checks wait, which objects are not healthy yet and why. */
    onHealthPending?: (message: string) => Promise<void>;
  }): Promise<ApplyOutcome>;
}

/** Failures the apply port reports; anything else is a ReconciliationFailed. */
export { ApplyFailure, HealthCheckFailure } from "../apply/errors.js";

/** A render's objects and its read set: what it asked of the tree (`read:<path>`, see RecordingTree), sorted. */
export interface RecordedRender {
  objects: KubeObject[];
  reads: string[];
}

/** Renders a path of a tree (in a render worker, in the controller), recording what it read. */
export type RenderPort = (
  tree: FileTree,
  path: string,
  spec: FluxRenderSpec,
) => RecordedRender | Promise<RecordedRender>;

/** The parts of a Kustomization's spec that shape its render. */
export interface FluxRenderSpec {
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: KustomizationSpec["patches"];
  images?: KustomizationSpec["images"];
  components?: string[];
  commonMetadata?: KustomizationSpec["commonMetadata"];
  substitute?: Record<string, string>;
}
