import ignore, { type Ignore } from "ignore";

/** Flux's default exclusions: VCS and CI files, images and archives never reach render. */
export const DEFAULT_EXCLUSIONS = [
  ".git/",
  ".gitignore",
  ".gitmodules",
  ".gitattributes",
  "*.jpg",
  "*.jpeg",
  "*.gif",
  "*.png",
  "*.wmv",
  "*.flv",
  "*.tar.gz",
  "*.zip",
  ".github/",
  ".circleci/",
  ".travis.yml",
  ".gitlab-ci.yml",
  "appveyor.yml",
  ".drone.yml",
  "cloudbuild.yaml",
  "codeship-services.yml",
  "codeship-steps.yml",
  "**/.goreleaser.yml",
  "**/.sops.yaml",
  "**/.flux.yaml",
];

/**
 * The exclusion rules of an artifact: Flux's defaults, the repository's `.sourceignore` files
 * (each applying below its folder) and the GitRepository's `spec.ignore`.
 */
export class SourceIgnore {
  private readonly root: Ignore;
  private readonly nested: Array<{ dir: string; rules: Ignore }> = [];

  constructor(specIgnore?: string) {
    this.root = ignore().add(DEFAULT_EXCLUSIONS);
    if (specIgnore) this.root.add(specIgnore);
  }

  /** Adds the rules of a `.sourceignore` found in `dir` ("" for the root). */
  addSourceIgnore(dir: string, text: string): void {
    if (dir === "") this.root.add(text);
    else this.nested.push({ dir, rules: ignore().add(text) });
  }

  /** Whether `path` (a file, or a folder when it ends with `/`) is excluded. */
  ignores(path: string): boolean {
    if (this.root.ignores(path)) return true;
    for (const { dir, rules } of this.nested) {
      // A folder's own rules apply below it, not to the folder itself (`dir/`).
      if (path.startsWith(`${dir}/`) && path.length > dir.length + 1 && rules.ignores(path.slice(dir.length + 1)))
        return true;
    }
    return false;
  }
}
