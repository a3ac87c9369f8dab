import type { SecurityEvent } from '../../security/events.ts';
import type { OutboxMessage } from '../../email/outbox.repo.ts';
import { translate } from '../../http/views.ts';
import type { UserView } from '../users.service.ts';

/**
 * The admin console's view models (templates in views/admin/): every string through the
 * locale files, every value as the template prints it (escaped by Handlebars).
 */

export const CONSOLE_TEMPLATES = {
  index: 'admin/index',
  forbidden: 'admin/forbidden',
  users: 'admin/users',
  user: 'admin/user',
  clients: 'admin/clients',
  clientCreated: 'admin/client-created',
  outbox: 'admin/outbox',
  events: 'admin/events',
} as const;

const SECTIONS = ['users', 'clients', 'outbox', 'events'] as const;
export type Section = (typeof SECTIONS)[number];

/** What every console page has: its title, the section links, who is signed in. */
export function consoleView(section: Section | 'index', adminEmail: string, extra: Record<string, unknown> = {}) {
  return {
    title: translate(section === 'index' ? 'admin.title' : `admin.${section}.title`),
    adminEmail,
    nav: SECTIONS.map((s) => ({ href: `/admin/${s}`, label: translate(`admin.${s}.title`), current: s === section })),
    ...extra,
  };
}

/** The link to the next page of a list, keeping its filters; undefined on the last page. */
export function nextLink(path: string, filters: Record<string, string | undefined>, cursor: string | null): string | undefined {
  if (!cursor) return undefined;
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  query.set('cursor', cursor);
  return `${path}?${query}`;
}

const USER_DONE = {
  disabled: 'admin.user.done_disabled',
  enabled: 'admin.user.done_enabled',
  verified: 'admin.user.done_verified',
  roles: 'admin.user.done_roles',
  sessions: 'admin.user.done_sessions',
  mailed: 'admin.user.done_mailed',
} as const;
export type UserDone = keyof typeof USER_DONE;

/** The notice of a change just made to a user (`?done=`), or nothing. */
export function userNotice(done: unknown): { notice?: string } {
  return typeof done === 'string' && Object.hasOwn(USER_DONE, done) ? { notice: translate(USER_DONE[done as UserDone]) } : {};
}

export function userRow(u: UserView) {
  return { ...u, href: `/admin/users/${u.id}`, rolesText: u.roles.join(', ') };
}

export function outboxRow(m: OutboxMessage) {
  return {
    id: m.id,
    to: m.toAddress,
    template: m.template,
    status: m.status,
    attempts: m.attempts,
    lastError: m.lastError,
    createdAt: m.createdAt.toISOString(),
    retryable: m.status === 'dead' || m.status === 'failed',
  };
}

export function eventRow(e: SecurityEvent) {
  return {
    id: e.id,
    type: e.type,
    createdAt: e.createdAt.toISOString(),
    accountId: e.accountId,
    ip: e.ip,
    details: JSON.stringify(e.details),
  };
}
