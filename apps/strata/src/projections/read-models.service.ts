import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ProjectionEngine, type ReadModel } from '@strata/projections';
import { ApiError } from '../http/api-error.js';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';

export interface ReadOptions {
  /** `?minPosition=`: wait (bounded) until the read models have seen this position. */
  minPosition?: string;
  /** `?at=`: a position (digits) or an ISO time: answer from the read models as they were then. */
  at?: string;
}

const DIGITS = /^\d+$/;

function parsePosition(value: string, name: string): number {
  if (!DIGITS.test(value)) throw new ApiError(400, 'INVALID_POSITION', `${name} must be a non-negative integer position`);
  return Number(value);
}

/** Parses `?at=`/`?since=`-style values: digits are a position, anything else must be an ISO time. */
export function parsePositionOrTime(value: string, name: string): { position: number } | { time: string } {
  if (DIGITS.test(value)) return { position: Number(value) };
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) {
    throw new ApiError(400, 'INVALID_TIME', `${name} must be a position or an ISO 8601 time, e.g. 2026-11-28T10:32:00Z`);
  }
  return { time: time.toISOString() };
}

/** The node's read side: the projection engine, read-your-writes waits and time travel. */
@Injectable()
export class ReadModels implements OnApplicationShutdown {
  private readonly logger = new Logger('projections');
  /** Time travel replays the log into memory per query: at most this many at once, the rest queue. */
  private readonly timeTravelSlots = new Semaphore(2);

  constructor(
    readonly engine: ProjectionEngine,
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
  ) {}

  /** Runs `query` against the right read model and says which position the answer reflects. */
  async read<T>(options: ReadOptions, query: (model: ReadModel) => T | Promise<T>): Promise<{ value: T; position: number }> {
    if (options.at !== undefined) {
      const at = parsePositionOrTime(options.at, 'at');
      return this.timeTravelSlots.run(async () => {
        const model = await this.engine.at(at);
        try {
          return { value: await query(model), position: model.position };
        } finally {
          await model.dispose();
        }
      });
    }
    if (options.minPosition !== undefined) {
      const wanted = parsePosition(options.minPosition, 'minPosition');
      if (!(await this.engine.waitFor(wanted, this.config.maxWaitMs))) {
        throw new ApiError(
          504,
          'READ_MODEL_BEHIND',
          `read models reached position ${this.engine.position()} but not ${wanted} within ${this.config.maxWaitMs} ms; retry`,
        );
      }
    }
    const model = this.engine.readModel();
    return { value: await query(model), position: this.engine.position() };
  }

  /**
   * Waits until the read models have seen everything in the log now: for checks a command makes
   * against them (is this tag still used?), so they are as fresh as the log they will append to.
   */
  async catchUpToHead(): Promise<void> {
    const head = await this.engine.head();
    if (!(await this.engine.waitFor(head, this.config.maxWaitMs))) {
      throw new ApiError(504, 'READ_MODEL_BEHIND', `read models reached position ${this.engine.position()} but not ${head} within ${this.config.maxWaitMs} ms; retry`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.engine.close();
    this.logger.log({ msg: 'projections stopped', position: this.engine.position() });
  }
}

/** A counting semaphore: `run` waits for a free slot, so expensive work is bounded in parallel. */
class Semaphore {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
