import type { Knex } from 'knex';
import type { Accounts } from '../accounts/accounts.service.ts';
import type { PasswordLogin } from '../accounts/passwords/password-login.ts';
import type { Config } from '../config.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { ClientsRepo } from '../oidc/clients.repo.ts';
import type { OidcHost } from '../oidc/host.ts';
import type { SecurityEvents } from '../security/events.ts';
import { createFirstPartyRepo, type FirstPartyRepo } from './first-party.repo.ts';
import { createKeyRing, type KeyRing } from './keyring.ts';

/**
 * What every first-party piece of one app shares: the key ring (so keys are loaded and
 * imported once per app, not per request) and the repo. Made once in src/app.ts and handed
 * to the first-party routes and to the session reader.
 */
export interface FirstPartyContext {
  keys: KeyRing;
  repo: FirstPartyRepo;
}

export function createFirstPartyContext({ knex, box, config, host }: { knex: Knex; box: SecretBox; config: Pick<Config, 'retiredKeyGraceSeconds'>; host: OidcHost }): FirstPartyContext {
  return {
    keys: createKeyRing({ knex, box, retiredKeyGraceSeconds: config.retiredKeyGraceSeconds, generation: () => host.provider }),
    repo: createFirstPartyRepo(knex),
  };
}

/** What the first-party routes are given (src/app.ts): every dependency they have. */
export interface FirstPartyDeps {
  config: Config;
  host: OidcHost;
  knex: Knex;
  accounts: Accounts;
  clients: ClientsRepo;
  events: Pick<SecurityEvents, 'record'>;
  passwordLogin: PasswordLogin;
  context: FirstPartyContext;
}
