/** The trained model of each run (native save), so `edgeloop export --run R` can export it later. */
import { EdgeloopError } from '../src/errors.ts';
import type { SqliteDatabase } from '../io/sqlite.ts';
import type { NativeModel, Task } from '../models/training.ts';

export interface RunModel {
  runId: string;
  task: Task;
  classes?: string[];
  native: NativeModel;
}

export class RunModelStore {
  readonly #db: SqliteDatabase;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  static async create(database: SqliteDatabase): Promise<RunModelStore> {
    database.exec('CREATE TABLE IF NOT EXISTS run_models (run_id TEXT PRIMARY KEY, task TEXT NOT NULL, classes TEXT, native TEXT NOT NULL)');
    return new RunModelStore(database);
  }

  save(m: RunModel): void {
    this.#db.prepare('INSERT OR REPLACE INTO run_models (run_id, task, classes, native) VALUES (?, ?, ?, ?)').run(m.runId, m.task, m.classes ? JSON.stringify(m.classes) : null, JSON.stringify(m.native));
  }

  load(runId: string): RunModel {
    const row = this.#db.prepare('SELECT run_id, task, classes, native FROM run_models WHERE run_id = ?').get(runId) as { run_id: string; task: Task; classes: string | null; native: string } | undefined;
    if (!row) throw new EdgeloopError('NOT_FOUND', `run ${JSON.stringify(runId)} has no saved model (see 'edgeloop runs list')`);
    return { runId: row.run_id, task: row.task, classes: row.classes ? (JSON.parse(row.classes) as string[]) : undefined, native: JSON.parse(row.native) as NativeModel };
  }
}
