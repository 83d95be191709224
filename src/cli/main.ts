/**
 * The `netslim` command. Every failure is one line on stderr: exit code 2 for bad flags, 1 for
 * anything else (missing or bad files, GPU errors). Output files are written atomically, so a
 * failed command leaves none half-written.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { NetslimError } from '../errors.js';
import { CliError } from './common.js';
import { registerDemo } from './demo.js';
import { registerExport } from './export.js';
import { registerImport } from './import.js';
import { registerPredict } from './predict.js';
import { registerPrune } from './prune.js';
import { registerSlim } from './slim.js';
import { registerTrain } from './train.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'dev';
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('netslim')
    .description('Network Slimming on WebGPU: train with BatchNorm sparsity, prune channels, fine-tune')
    .version(version())
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(`netslim: ${str.replace(/^error: /, '').trim()}\n`) });
  registerTrain(program);
  registerPrune(program);
  registerPredict(program);
  registerImport(program);
  registerExport(program);
  registerSlim(program);
  registerDemo(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ outputError: (str, write) => write(`netslim ${c.name()}: ${str.replace(/^error: /, '').trim()}\n`) });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander already printed the one line
    }
    if (e instanceof CliError) {
      console.error(`netslim: ${e.message}`);
      return e.code;
    }
    if (e instanceof NetslimError) {
      console.error(`netslim: ${e.message.split('\n')[0]}`);
      return 1;
    }
    // A system error (a path that cannot be read or written) is the user's to fix: its message, one line.
    const sys = e as NodeJS.ErrnoException;
    if (sys && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
      console.error(`netslim: ${sys.message}`);
      return 1;
    }
    console.error(`netslim: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
