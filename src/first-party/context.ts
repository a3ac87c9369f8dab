import type { FastifyInstance } from 'fastify';
import { createFirstPartyRepo, type FirstPartyRepo } from './first-party.repo.ts';
import { createKeyRing, type KeyRing } from './keyring.ts';

/**
 * What every first-party piece of one app shares: the key ring (so keys are loaded and
 * imported once per app, not per request) and the repo. Made on first use from the app's
 * services, so `getSessionUser` works in any route of the app, whichever scope it is in.
 */
export interface FirstPartyContext {
  keys: KeyRing;
  repo: FirstPartyRepo;
}

const contexts = new WeakMap<object, FirstPartyContext>();

export function firstPartyContext(app: FastifyInstance): FirstPartyContext {
  const services = app.gatehouse;
  let context = contexts.get(services);
  if (!context) {
    const { knex, box, config, host } = services;
    context = {
      keys: createKeyRing({ knex, box, retiredKeyGraceSeconds: config.retiredKeyGraceSeconds, generation: () => host.provider }),
      repo: createFirstPartyRepo(knex),
    };
    contexts.set(services, context);
  }
  return context;
}
