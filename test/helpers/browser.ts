/** Headless Debian Chromium driven by playwright-core (no browser download). Null when not installed. */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;

export async function launchBrowser(): Promise<Browser | null> {
  if (!CHROMIUM_PATH) return null;
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // The machine has no internet: background networking only produces refused connections.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
