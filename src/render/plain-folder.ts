import { FolderWalk, type FileTree } from "../core/file-tree.js";
import { emptyKustomization, KUSTOMIZATION_FILE_NAMES, type KustomizationFile } from "./kustomization-file.js";

/**
 * The kustomization Flux generates for a folder without one: every `.yaml`/`.yml` file below it,
 * in walk order, with a sub-folder that has its own kustomization file taken as one resource
 * (and not descended into). Folder symlinks are followed inside the tree, but a loop (`self -> .`)
 * or a folder reached twice is refused with its path (Flux's own walk does not follow them at all).
 */
export function plainFolderKustomization(tree: FileTree, dir: string): KustomizationFile {
  const resources: string[] = [];
  const folders = new FolderWalk(tree);
  const walk = (folder: string, rel: string): void => {
    folders.enter(folder);
    for (const name of tree.list(folder)) {
      const path = folder ? `${folder}/${name}` : name;
      const relPath = rel ? `${rel}/${name}` : name;
      const kind = tree.kind(path);
      if (kind === "dir") {
        if (name === ".git") continue;
        if (KUSTOMIZATION_FILE_NAMES.some((f) => tree.kind(`${path}/${f}`) === "file")) resources.push(relPath);
        else walk(path, relPath);
      } else if (kind === "file" && /\.ya?ml$/.test(name)) {
        resources.push(relPath);
      }
    }
  };
  walk(dir, "");
  return { ...emptyKustomization(), resources };
}
