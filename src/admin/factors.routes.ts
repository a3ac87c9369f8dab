import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { requestContext } from '../security/events.ts';
import { adminError } from './clients.schemas.ts';

export interface AdminFactorsOptions {
  /** src/accounts/mfa/admin-removal.ts, bound to the app's services: undefined for no such account. */
  removeFactors: (accountId: string, by: { ip?: string; userAgent?: string; details: Record<string, unknown> }) => Promise<{ removed: boolean } | undefined>;
}

const userParams = z.object({ id: z.string().max(64) });
const removedAnswer = z.object({ id: z.string(), removed: z.boolean().describe('false when the user had no second factor') });
const ERRORS = { 400: adminError, 401: adminError, 403: adminError, 404: adminError };

/**
 * `DELETE /admin/api/users/{id}/factors` (issue 13, recovery of access): removes the user's
 * second factors (authenticator app and recovery codes), records who did it, and mails the user
 * a notice. The user signs in with the password alone until they add a factor again (or are
 * asked to enrol one at their next sign-in when the MFA policy requires it).
 */
export async function adminFactorsRoutes(scope: FastifyInstance, { removeFactors }: AdminFactorsOptions) {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  app.delete(
    '/users/:id/factors',
    {
      schema: {
        tags: ['users'],
        security: [{ bearer: [] }],
        summary: "Remove a user's second factors (authenticator app, recovery codes); the user is told by e-mail",
        params: userParams,
        response: { 200: removedAnswer, ...ERRORS },
      },
    },
    async (request) => {
      const by = { ...requestContext(request), details: { by_client: request.admin?.clientId, by_account: request.admin?.accountId } };
      const done = await removeFactors(request.params.id, by);
      if (!done) throw new AppError('NOT_FOUND', 404, 'There is no user with this id.');
      return { id: request.params.id, removed: done.removed };
    },
  );
}
