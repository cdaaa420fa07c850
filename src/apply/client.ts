// The connection layer lives in core/kube (every stage talks to clusters); apply keeps its old import path.
export {
  ApiError,
  ClusterClient,
  type ApiResource,
  type ApiResponse,
  type ClientOptions,
} from "../core/kube/client.js";
export type { Credentials } from "../core/kube/connection.js";
