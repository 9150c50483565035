/**
 * Child process for the SQLite multi-process test: read-modify-write transactions on one
 * counter, as several server processes sharing one file would do.
 * Usage: node --import tsx sqlite-contender.ts <sqlite-url> <rounds>
 */
import { openStore } from '../store';

async function main(url: string, rounds: number): Promise<void> {
  const store = await openStore(url);
  try {
    for (let i = 0; i < rounds; i++) {
      await store.transaction(async (tx) => {
        const current = (await tx.settings.get('contended')) as number | undefined;
        await tx.settings.set('contended', (current ?? 0) + 1);
      });
    }
  } finally {
    await store.close();
  }
}

main(process.argv[2] ?? '', Number(process.argv[3] ?? '1')).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
