export {
  startHarness,
  type Harness,
  type HarnessOptions,
  type LocalControlPlane,
  type Profile,
  type StaticToken,
} from "./local/harness.js";
export { LocalProvider, type ProviderOptions } from "./local/provider.js";
export { standInCrds } from "./local/stand-in-crds.js";
