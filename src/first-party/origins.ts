import type { FirstPartyRepo } from './first-party.repo.ts';

/** The origin (RFC 6454) of a URL, or undefined for one without (custom schemes of native apps). */
export function originOf(url: string): string | undefined {
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * The origins allowed to call `/session` from a browser with credentials: Gatehouse's own and
 * those of first-party clients' registered redirect URIs (where their pages live). Read per
 * request: a client made first-party, or no longer, counts at once.
 */
export async function sessionOrigins(issuer: string, repo: FirstPartyRepo): Promise<Set<string>> {
  const origins = new Set([new URL(issuer).origin]);
  for (const uri of await repo.redirectUris()) {
    const origin = originOf(uri);
    if (origin) origins.add(origin);
  }
  return origins;
}
