export { GitSource, defaultCacheDir, type Artifact, type SourceSpec } from "./git-source.js";
export { pollDefaultBranch } from "./default-branch-source.js";
export { LocalRepository, type CommitInfo } from "./local-repository.js";
export { resolveRef, highestTag, tagVersion, defaultBranch, type RemoteRef, type ResolvedRef } from "./resolve-ref.js";
export { sanitizeUrl } from "./errors.js";
export { patchIdentity } from "./patch-id.js";
export { SshTransport } from "./ssh-transport.js";
export { isSshUrl, parseSshUrl, type SshRemote } from "./ssh-url.js";
export { parseKnownHosts, checkHostKey, fingerprint, type KnownHost } from "./ssh-known-hosts.js";
