import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { SecretBox } from '../crypto/secret-box.ts';
import { keepAnswersDesigned } from './answers.ts';
import { loadSigningJwks, signingKeysVersion } from './keys.ts';
import { createProvider, type ProviderDeps } from './provider.ts';

/**
 * Holds the current oidc-provider instance. oidc-provider fixes its keystore at construction,
 * so when `gatehouse keys rotate` changes the keys in the database, the host builds a new
 * provider (cheap: no I/O) and swaps it in; requests already running finish on the old one.
 */
export interface OidcHost {
  readonly provider: Provider;
  readonly callback: ReturnType<Provider['callback']>;
  /** Reload keys now; returns true when the provider was rebuilt. */
  refresh(): Promise<boolean>;
  close(): void;
}

export async function createOidcHost(
  deps: Omit<ProviderDeps, 'jwks'> & {
    knex: Knex;
    box: SecretBox;
    onError: (err: unknown) => void;
    /** Called on every provider built (middleware, event listeners). */
    configure?: (provider: Provider) => void;
  },
): Promise<OidcHost> {
  let version = '';
  let provider!: Provider;
  let callback!: ReturnType<Provider['callback']>;

  async function refresh() {
    // Every poll asks only which keys are published; they are decrypted when that changes.
    if ((await signingKeysVersion(deps.knex, deps.config.retiredKeyGraceSeconds)) === version) return false;
    const jwks = await loadSigningJwks(deps.knex, deps.box, deps.config.retiredKeyGraceSeconds);
    provider = createProvider({ ...deps, jwks: jwks.keys });
    keepAnswersDesigned(provider, deps.onError);
    deps.configure?.(provider);
    callback = provider.callback();
    version = jwks.version;
    return true;
  }

  await refresh();
  const timer = setInterval(() => refresh().catch(deps.onError), deps.config.keyPollSeconds * 1000);
  timer.unref();

  return {
    get provider() {
      return provider;
    },
    get callback() {
      return callback;
    },
    refresh,
    close: () => clearInterval(timer),
  };
}
