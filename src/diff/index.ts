export {
  diffFleet,
  type FleetDiff,
  type ClusterDiff,
  type UnitDiff,
  type ObjectChange,
  type UnitRender,
} from "./fleet-diff.js";
export { formatDiffText, formatDiffMarkdown, PR_COMMENT_LIMIT } from "./format-diff.js";
export { renderUnits } from "./render-units.js";
export { diffRevisions } from "./revisions.js";
export { diffLive, type LiveDiff, type LiveDiffOptions } from "./live.js";
