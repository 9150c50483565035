import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { REPO } from './processes';

/** Debian's chromium; browsers are never downloaded (`playwright install`) for the tests. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless Chromium with nothing running in the background that could reach the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    timeout: 20_000,
  });
}

/** test-artifacts/<name>/ (git-ignored), created on first use. */
export function artifactDir(name: string): string {
  const dir = path.join(REPO, 'test-artifacts', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
