import { createLog } from '../email/log.ts';
import { AppError, NotFoundError } from '../errors.ts';
import { ensureSigningKeys, loadSigningJwks } from '../oidc/keys.ts';
import { createProvider } from '../oidc/provider.ts';
import { registerClient, rotateClientSecret, updateClient } from '../oidc/clients.service.ts';
import type { Runtime } from '../runtime.ts';
import { ADMIN_CLIENT_CREATED, ADMIN_CLIENT_DELETED, ADMIN_CLIENT_SECRET_ROTATED, ADMIN_CLIENT_UPDATED, createSecurityEvents } from '../security/events.ts';
import { createServices, type Services } from '../services.ts';
import { changesOf, cliActor, recordAdminChange } from './audit.ts';
import { asOptionError, CliUsageError, commaList, onePositional, parseOptions, print } from './cli-args.ts';

/**
 * `npx gatehouse client ...` (CONTRACT.md "CLI"): create, list, show, update, rotate-secret,
 * delete. Every path applies the same validation as the admin API and dynamic registration
 * (clients.service.ts), and every change is in the audit trail with the actor `cli`.
 */

/** Client metadata fields as the options that set them, for errors that name the option. */
const OPTION_OF: Record<string, string> = {
  client_name: '--name',
  redirect_uris: '--redirect-uri',
  post_logout_redirect_uris: '--post-logout-redirect-uri',
  grant_types: '--grant-types',
  response_types: '--grant-types',
  scope: '--scope',
  backchannel_logout_uri: '--backchannel-logout-uri',
  token_endpoint_auth_method: '--public',
};

/** An oidc-provider instance for validating metadata and minting initial access tokens. */
export async function providerFor(runtime: Runtime, services: Services) {
  await ensureSigningKeys(services.knex, services.box);
  const { keys } = await loadSigningJwks(services.knex, services.box, runtime.config.retiredKeyGraceSeconds);
  return createProvider({ ...services, config: runtime.config, jwks: keys, render: async () => '' });
}

const withOptionErrors = <T>(work: Promise<T>) => work.catch((err: unknown) => Promise.reject(asOptionError(err, OPTION_OF)));

export async function clientCommand(runtime: Runtime, args: string[]): Promise<void> {
  const services = createServices(runtime);
  const events = createSecurityEvents({ knex: services.knex, log: createLog(runtime.config.logLevel, 'gatehouse-cli') });
  const audit = (type: Parameters<typeof recordAdminChange>[1], clientId: string, extra: Parameters<typeof recordAdminChange>[3] = {}) =>
    recordAdminChange(events, type, cliActor(), { ...extra, details: { client_id: clientId, ...extra.details } });
  const store = async () => ({ clients: services.clients, provider: await providerFor(runtime, services) });
  const [sub, ...rest] = args;

  switch (sub) {
    case 'list': {
      parseOptions(rest, {});
      // Secrets only through `client show ID`, one client at a time.
      print((await services.clients.list()).map(({ client_secret: _secret, ...client }) => client));
      return;
    }
    case 'show':
    case 'delete':
    case 'rotate-secret': {
      const id = onePositional(parseOptions(rest, {}).positionals, 'a client id', `client ${sub}`);
      if (sub === 'show') {
        const client = await services.clients.find(id);
        if (!client) throw new NotFoundError(`no client with id ${id}`);
        print(client);
      } else if (sub === 'delete') {
        if (!(await services.clients.delete(id))) throw new NotFoundError(`no client with id ${id}`);
        await audit(ADMIN_CLIENT_DELETED, id);
        print({ client_id: id, deleted: true });
      } else {
        const secret = await rotateClientSecret(await store(), id);
        if (!secret) {
          if (await services.clients.find(id)) throw new AppError('PUBLIC_CLIENT', 409, `client ${id} is public: it has no secret to rotate`);
          throw new NotFoundError(`no client with id ${id}`);
        }
        await audit(ADMIN_CLIENT_SECRET_ROTATED, id);
        print({ client_id: id, client_secret: secret });
      }
      return;
    }
    case 'update': {
      const { values, positionals } = parseOptions(rest, {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        scope: { type: 'string' },
        'grant-types': { type: 'string' },
      });
      const id = onePositional(positionals, 'a client id', 'client update');
      const changes: Record<string, unknown> = {};
      if (values.name !== undefined) changes.client_name = values.name.trim();
      if (values['redirect-uri']) changes.redirect_uris = values['redirect-uri'];
      if (values['post-logout-redirect-uri']) changes.post_logout_redirect_uris = values['post-logout-redirect-uri'];
      if (values.scope !== undefined) changes.scope = values.scope;
      if (values['grant-types'] !== undefined) changes.grant_types = commaList(values['grant-types']);
      if (!Object.keys(changes).length) throw new CliUsageError('client update needs at least one of --name, --redirect-uri, --post-logout-redirect-uri, --scope, --grant-types');
      if (changes.client_name === '') throw new CliUsageError('--name: a client needs a name');
      const before = await services.clients.find(id);
      if (!before) throw new NotFoundError(`no client with id ${id}`);
      const updated = (await withOptionErrors(updateClient(await store(), id, changes)))!;
      const fields = Object.keys(changes);
      await audit(ADMIN_CLIENT_UPDATED, id, { details: { fields }, changes: changesOf(before, updated, fields) });
      print(updated);
      return;
    }
    case 'create': {
      const { values } = parseOptions(rest, {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'backchannel-logout-uri': { type: 'string' },
        public: { type: 'boolean' },
        'first-party': { type: 'boolean' },
        'grant-types': { type: 'string' },
        scope: { type: 'string' },
      });
      const created = await withOptionErrors(
        registerClient(await store(), {
          name: values.name ?? '',
          redirectUris: values['redirect-uri'],
          postLogoutRedirectUris: values['post-logout-redirect-uri'],
          public: Boolean(values.public),
          firstParty: Boolean(values['first-party']),
          grantTypes: commaList(values['grant-types']),
          scope: values.scope,
          backchannelLogoutUri: values['backchannel-logout-uri'],
        }),
      );
      await audit(ADMIN_CLIENT_CREATED, created.client_id, { details: { fields: Object.keys(created).filter((k) => k !== 'client_secret' && k !== 'client_id') } });
      print(created);
      return;
    }
    default:
      throw new CliUsageError(`unknown client command ${sub ?? '(none)'}`);
  }
}
