export {
  ApiError,
  ClusterClient,
  type ApiResource,
  type ApiResponse,
  type ClientOptions,
  type LineStream,
} from "./client.js";
export {
  Connection,
  impersonationHeaders,
  serviceAccountIdentity,
  type ConnectionOptions,
  type Credentials,
  type Grant,
  type Identity,
} from "./connection.js";
export { ExecPlugin, parseExecConfig, type ExecConfig, type ExecCredential } from "./exec-plugin.js";
export {
  defaultKubeconfig,
  describeOrigin,
  inCluster,
  kubeconfigFromFile,
  kubeconfigContexts,
  kubeconfigFromList,
  kubeconfigFromText,
  kubeconfigInCluster,
  SERVICE_ACCOUNT_DIR,
  type DefaultOptions,
  type InClusterOptions,
  type KubeconfigOrigin,
  type LoadedKubeconfig,
  type LoadOptions,
} from "./kubeconfig.js";
export {
  ResourceWatch,
  stripManagedFields,
  type WatchEventType,
  type WatchHandlers,
  type WatchOptions,
} from "./watch.js";
