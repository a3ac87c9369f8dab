import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** Why browser tests cannot run here, or false when they can (`.ci/run` installs Chromium). */
export const NO_CHROMIUM = !existsSync(CHROMIUM) && 'Debian chromium is not installed (apt-get install chromium)';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
