import type { ClientMetadata, ClientsRepo } from '../oidc/clients.repo.ts';
import { NotFirstPartyError } from './errors.ts';

/** The client, if it is first-party; every `/session` endpoint refuses any other. */
export async function firstPartyClient(clients: ClientsRepo, clientId: unknown): Promise<ClientMetadata> {
  const client = typeof clientId === 'string' && clientId ? await clients.find(clientId) : undefined;
  if (!client || client.first_party !== true) throw new NotFirstPartyError();
  return client;
}
