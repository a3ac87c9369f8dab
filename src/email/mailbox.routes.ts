import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NO_INPUT } from '../http/schemas.ts';
import { translate } from '../http/views.ts';
import type { OutboxRepo } from './outbox.repo.ts';

/**
 * The dev mailbox (CONTRACT.md): without SMTP_URL and outside production, "sending" an e-mail
 * stores it in the outbox row, and these pages show what was sent, newest first.
 */
export async function mailboxRoutes(scope: FastifyInstance, { outbox }: { outbox: OutboxRepo }) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const messages = async () =>
    (await outbox.mailbox()).map((m) => ({ id: m.id, to: m.toAddress, subject: m.subject, text: m.textBody, html: m.htmlBody, date: m.sentAt }));

  app.get('/dev/mailbox.json', { schema: NO_INPUT }, async (_request, reply) => {
    const list = (await messages()).map(({ to, subject, text, html, date }) => ({ to, subject, text, html, date }));
    return reply.send(list);
  });

  app.get('/dev/mailbox', { schema: NO_INPUT }, async (_request, reply) => {
    // `wide`: the layout's wider card; the text wraps (views/assets/gatehouse.css .mail-text), readable on a phone.
    const list = (await messages()).map((m) => ({ ...m, iso: m.date instanceof Date ? m.date.toISOString() : m.date, date: m.date instanceof Date ? m.date.toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : m.date }));
    return reply.view('dev-mailbox', { title: translate('mailbox.title'), wide: true, messages: list });
  });

  // An e-mail's HTML part on its own, sandboxed: it is content, never part of our pages.
  // Outbox ids are Postgres UUIDs: anything else is a 400 naming `id`.
  app.get('/dev/mailbox/:id.html', { schema: { params: z.object({ id: z.guid({ error: 'must be a message id (a UUID)' }) }) } }, async (request, reply) => {
    const message = await outbox.findById(request.params.id);
    if (!message?.htmlBody || message.transport !== 'mailbox') return reply.code(404).type('text/plain').send('not found');
    return reply
      .header('content-security-policy', "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
      .type('text/html; charset=utf-8')
      .send(message.htmlBody);
  });
}
