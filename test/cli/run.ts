// Runs the built command line (node bin/dinov2-webgpu.js) as a user does, for the CLI tests.
import { type ChildProcess, spawn } from 'node:child_process';

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Starts the CLI; `env` entries set to undefined are removed from the environment. */
export function startCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  shell?: string,
): { child: ChildProcess; done: Promise<CliResult>; stderrSoFar: () => string } {
  const fullEnv: Record<string, string | undefined> = { ...process.env, HF_HUB_OFFLINE: '', ...env };
  for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
  const child = shell
    ? spawn('bash', ['-c', `${shell}; exec "$0" bin/dinov2-webgpu.js "$@"`, process.execPath, ...args], {
        env: fullEnv as NodeJS.ProcessEnv,
      })
    : spawn(process.execPath, ['bin/dinov2-webgpu.js', ...args], { env: fullEnv as NodeJS.ProcessEnv });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stdout: Buffer.concat(out), stderr })),
  );
  return { child, done, stderrSoFar: () => stderr };
}

export function cli(args: string[], env: Record<string, string | undefined> = {}, shell?: string) {
  return startCli(args, env, shell).done;
}

/** Resolves once the CLI's stderr matches `pattern` (rejects if it exits first). */
export async function waitForStderr(run: ReturnType<typeof startCli>, pattern: RegExp): Promise<void> {
  let exited = false;
  run.done.then(() => (exited = true));
  while (!pattern.test(run.stderrSoFar())) {
    if (exited) throw new Error(`exited before ${pattern}: ${run.stderrSoFar()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
