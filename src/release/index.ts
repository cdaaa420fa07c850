export {
  parseCommitTitle,
  lintCommitTitle,
  pullRequestOf,
  declaresBreakingChange,
  COMMIT_TYPES,
  type CommitTitle,
} from "./commit-title.js";
export { bumpFor, nextVersion, type Bump } from "./next-version.js";
export {
  buildReleaseNotes,
  formatReleaseNotesMarkdown,
  type ReleaseNotes,
  type ReleaseEntry,
  type HistoryCommit,
  type ImpactRow,
} from "./release-notes.js";
export { releaseNotes, releaseNotesWithImpact, nextRelease, type NextRelease } from "./history.js";
export { lintCommits, type CommitLint } from "./lint-commits.js";
export { forgeLinks, type ForgeLinks } from "./forge.js";
export { commitFileChange } from "./git-write.js";
export { promote, type PromoteOptions, type Promotion } from "./promote.js";
