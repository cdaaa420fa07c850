// The one list-and-watch lives in core/kube; the controller keeps its old import path.
export { ResourceWatch, type WatchEventType, type WatchHandlers } from "../core/kube/watch.js";
