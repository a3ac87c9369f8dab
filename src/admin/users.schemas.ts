import { z } from 'zod';
import { OUTBOX_STATUSES } from '../email/outbox.repo.ts';
import { parseSince } from '../security/events.cli.ts';
import { SECURITY_EVENT_TYPES } from '../security/events.ts';
import { listQuery } from './clients.schemas.ts';
import { MAX_ROLES, ROLE_RE, ROLE_RULE } from './users.service.ts';

/**
 * The admin API's schemas for users, the outbox and the event log: they check a request's
 * shape and are what the OpenAPI document is generated from. Answers go through them too, so
 * nothing not named here (a password hash, a sealed link) can leave.
 */

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
const plainText = (max: number) => z.string().max(max).refine((s) => !CONTROL_RE.test(s), { error: 'must not contain control characters' });

function isSince(value: string): boolean {
  try {
    parseSince(value);
    return true;
  } catch {
    return false;
  }
}

export const usersQuery = listQuery.extend({
  q: plainText(200).optional().describe('part of the e-mail address, username or name (any case)'),
});

export const userParams = z.object({ id: z.string().min(1).max(200).describe('the account id') });

export const userView = z.object({
  id: z.string(),
  email: z.string(),
  username: z.string().nullable(),
  name: z.string(),
  email_verified: z.boolean(),
  roles: z.array(z.string()),
  disabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
  sessions_revoked_at: z.string().nullable().describe('when the user was last signed out everywhere'),
});

export const userPage = z.object({ items: z.array(userView), next_cursor: z.string().nullable().describe('null on the last page') });

/** PATCH /admin/api/users/{id}: the fields to change; any other field is refused by name. */
const userFields = {
  name: plainText(200),
  disabled: z.boolean().describe('true signs the user out everywhere too'),
  email_verified: z.boolean(),
  roles: z.array(z.string().regex(ROLE_RE, { error: ROLE_RULE })).max(MAX_ROLES).describe('replaces the roles; `admin` makes an administrator'),
};

export const updateUserBody = z
  .looseObject(userFields)
  .partial()
  .superRefine((body, ctx) => {
    for (const key of Object.keys(body)) {
      if (!(key in userFields)) ctx.addIssue({ code: 'custom', path: [key], message: 'is not a field an admin can change (name, disabled, email_verified, roles)' });
    }
  });

export const outboxQuery = listQuery.extend({ status: z.enum(OUTBOX_STATUSES).optional() });

export const outboxParams = z.object({ id: z.string().min(1).max(200).describe('the message id') });

/** A message as admins see it: addressing and state, never its data (a sealed link) or bodies. */
export const outboxView = z.object({
  id: z.string(),
  to: z.string(),
  template: z.string(),
  status: z.enum(OUTBOX_STATUSES),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string(),
  created_at: z.string(),
  sent_at: z.string().nullable(),
  subject: z.string().nullable(),
  account_id: z.string().nullable(),
});

export const outboxPage = z.object({ items: z.array(outboxView), next_cursor: z.string().nullable() });

export const eventsQuery = listQuery.extend({
  user: z.uuid({ error: 'must be an account id (a UUID)' }).optional(),
  type: z.enum(SECURITY_EVENT_TYPES).optional(),
  since: z
    .string()
    .max(40)
    .refine(isSince, { error: 'must be an ISO-8601 date or time such as 2026-11-24 or 2026-11-24T10:00:00Z' })
    .optional()
    .describe('events at or after this instant'),
});

export const eventView = z.object({
  id: z.number().int(),
  type: z.string(),
  created_at: z.string(),
  account_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).describe('who (by, by_client, by_account, by_email), what (changes: before and after), never a secret'),
});

export const eventPage = z.object({ items: z.array(eventView), next_cursor: z.string().nullable() });
