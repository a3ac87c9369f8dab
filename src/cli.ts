import { USAGES, usageOf } from './cli-usage.ts';

/**
 * `npx gatehouse <command>`: the admin CLI of CONTRACT.md. A command that creates something
 * prints one JSON object on stdout and nothing else there; errors are one line on stderr
 * and a non-zero exit (64 for bad input). `gatehouse <command> [<subcommand>] --help` shows
 * its usage without loading the rest of Gatehouse (src/cli-commands.ts runs the commands).
 */

async function run(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usageOf(command === 'help' ? args[0] : undefined, args[1])}\n`);
    return;
  }
  if (!(command in USAGES)) {
    process.stderr.write(`gatehouse: usage error: unknown command ${command} (gatehouse --help shows the usage)\n`);
    process.exit(64);
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usageOf(command, args[0])}\n`);
    return;
  }
  const { runCommand, USAGE_ERRORS } = await import('./cli-commands.ts');
  await runCommand(command, args).catch((err: Error) => {
    const usage = USAGE_ERRORS.some((type) => err instanceof type);
    const hint = usage ? ` (gatehouse ${command} --help shows the usage)` : '';
    process.stderr.write(`gatehouse: ${usage ? 'usage error' : 'error'}: ${err.message.split('\n')[0]}${hint}\n`);
    process.exit(usage ? 64 : 1);
  });
}

run(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`gatehouse: error: ${err.message.split('\n')[0]}\n`);
  process.exit(1);
});
