/**
 * The CLI's usage lines, by command and subcommand (`gatehouse <command> [<subcommand>] --help`).
 * A module of strings alone: help answers without loading the rest of Gatehouse.
 */

export const CLIENT_USAGE = {
  create: `client create --name N --redirect-uri U [--redirect-uri U2 ...] [--post-logout-redirect-uri U ...]
                [--public] [--first-party] [--grant-types a,b] [--scope "openid profile email"] [--backchannel-logout-uri U]`,
  list: 'client list',
  show: 'client show ID',
  update: `client update ID [--name N] [--redirect-uri U ...] [--post-logout-redirect-uri U ...] [--scope S] [--grant-types a,b]
                (the given lists replace the old ones)`,
  'rotate-secret': 'client rotate-secret ID',
  delete: 'client delete ID',
} as const;

export const USER_USAGE = {
  create: 'user create --email E --password P [--name N] [--username U] [--admin] [--verified]',
  list: 'user list [--q TEXT]            (JSON lines; TEXT matches e-mail address, username or name)',
  show: 'user show ID|EMAIL',
  disable: 'user disable ID|EMAIL          (signs the user out everywhere)',
  enable: 'user enable ID|EMAIL',
  verify: 'user verify ID|EMAIL           (marks the e-mail address confirmed)',
  'set-roles': 'user set-roles ID|EMAIL --roles a,b   (replaces the roles; --roles "" for none)',
} as const;

export const IMPORT_USAGE = `user import --file F [--dry-run]
  user import --from-django postgres://... [--map-staff-to-admin] [--verified] [--dry-run]`;

/** Each command's usage, by command and subcommand. */
export const USAGES: Record<string, string | Record<string, string>> = {
  migrate: 'migrate',
  client: CLIENT_USAGE,
  user: { ...USER_USAGE, import: IMPORT_USAGE },
  keys: 'keys rotate',
  iat: 'iat create                      (an initial access token for dynamic client registration)',
  outbox: 'outbox [--status queued|sending|sent|failed|dead] | outbox retry ID',
  events: 'events [--user ID] [--type T] [--since ISO-8601]',
};

/** The usage of a command (and subcommand), or of every command. */
export function usageOf(command?: string, sub?: string): string {
  const entry = command ? USAGES[command] : undefined;
  if (!entry) return `usage: gatehouse <command>   (gatehouse <command> --help for one)\n${Object.keys(USAGES).map((c) => usageOf(c).replace(/^usage: gatehouse /gm, '  ')).join('\n')}`;
  const lines = typeof entry === 'string' ? [entry] : sub && entry[sub] ? [entry[sub]] : Object.values(entry);
  return lines.map((line) => `usage: gatehouse ${line}`).join('\n');
}
