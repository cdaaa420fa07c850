import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export interface ProcessMeasure {
  seconds: number;
  peakMiB: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command and measures its wall time and peak resident memory (the kernel's VmHWM, read
 * from /proc while it runs), with its output captured.
 */
export function measureProcess(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<ProcessMeasure> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let peakKiB = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
      } catch {
        // The process has exited between two samples.
      }
    };
    const timer = setInterval(sample, 5);
    child.stdout.on("data", (d: Buffer) => {
      out.push(d);
      sample();
    });
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        peakMiB: Math.round((peakKiB / 1024) * 10) / 10,
        exitCode: code ?? -1,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}
