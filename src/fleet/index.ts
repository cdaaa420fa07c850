export {
  startLocalFleet,
  isRemoteRepository,
  PROJECT_ROOT,
  type LocalFleet,
  type LocalFleetOptions,
} from "./local-fleet.js";
export { writeFleetKubeconfig } from "./kubeconfig.js";
