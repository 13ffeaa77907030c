import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from './helpers/tmp.ts';
import { Outbox } from '../device/outbox.ts';
import { openDatabase } from '../io/sqlite.ts';

const dir = tempDir('edgeloop-outbox-kill-');
const writer = new URL('./helpers/outbox-writer.ts', import.meta.url).pathname;

/** Runs the writer, kills it with SIGKILL `delayMs` after it is ready; returns the committed (id, seq) it printed. */
function runAndKill(path: string, firstSeq: number, delayMs: number): Promise<{ id: number; seq: number }[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, path, String(firstSeq)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!timer && out.startsWith('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited with code ${code} before the kill: ${err}`));
      // A partial last line was cut by the kill: only complete lines count as printed.
      const lines = out.split('\n').slice(1, -1);
      resolve(lines.map((l) => {
        const [id, seq] = l.split(' ').map(Number);
        return { id: id!, seq: seq! };
      }));
    });
  });
}

test('SIGKILL at a random moment loses no committed message; order and uniqueness hold over three kills', async (t) => {
  const path = join(dir, 'kill.db');
  let printed: { id: number; seq: number }[] = [];
  let nextSeq = 0;
  for (let round = 0; round < 3; round++) {
    const delayMs = 150 + Math.floor(Math.random() * 500);
    const got = await runAndKill(path, nextSeq, delayMs);
    t.log(`round ${round}: killed after ${delayMs} ms, ${got.length} ids printed`);
    t.true(got.length > 0, 'the writer committed something before the kill');
    printed = printed.concat(got);
    const q = await Outbox.create({ path, maxMessages: 1_000_000, maxBytes: 1 << 30, evict: 'reject-new' });
    const rows = q.peek(1_000_000);
    const seqOf = new Map(rows.map((m) => [m.id, (JSON.parse(Buffer.from(m.payload).toString('utf8')) as { seq: number }).seq]));
    // Every printed id is present with its own payload.
    const missing = printed.filter((p) => seqOf.get(p.id) !== p.seq);
    t.deepEqual(missing, [], 'every id printed as committed survived the kill');
    // Ids and sequence numbers both strictly increase: in order, none duplicated.
    t.true(rows.every((m, i) => i === 0 || m.id > rows[i - 1]!.id));
    const seqs = rows.map((m) => seqOf.get(m.id)!);
    t.is(seqs[0], 0);
    t.true(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1), 'no gap and no duplicate in the committed sequence');
    t.is(q.counters.queued, rows.length);
    // Commits whose line had not reached the pipe yet may exist beyond what was printed, never fewer.
    t.true(rows.length >= printed.length);
    t.log(`round ${round}: ${rows.length} rows stored, ${rows.length - printed.length} committed but unprinted`);
    nextSeq = seqs.length > 0 ? seqs.at(-1)! + 1 : 0;
    q.close();
  }
  const db = openDatabase(path, { readonly: true });
  t.is((db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check, 'ok');
  db.close();
});
