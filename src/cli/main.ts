#!/usr/bin/env node
import { describeError } from "../core/errors.js";
import { main } from "./dispatch.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`flotilla: ${describeError(error)}\n`);
    process.exitCode = 2;
  },
);
