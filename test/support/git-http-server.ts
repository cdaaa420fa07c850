// The smart-HTTP server is part of the product (`flotilla up` serves the repository with it).
export { startGitHttpServer, type GitHttpServer } from "../../src/source/git-http-server.js";
