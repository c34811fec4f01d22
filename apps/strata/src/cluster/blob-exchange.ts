import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { Subscription } from '@nats-io/transport-node';
import type { ImageView } from '@strata/api';
import { EVENT_STORE, type EventStore } from '@strata/eventstore';
import { imageStreamId } from '@strata/domain';
import type { ContentStore } from '@strata/layers';
import { Readable } from 'node:stream';
import { NODE_CONFIG, type NodeConfig } from '../config/node-config.js';
import { ApiError } from '../http/api-error.js';
import { CONTENT_STORE } from '../images/layer-tokens.js';
import { NatsClient } from './nats-client.js';

/** The bucket blobs travel through between nodes (JetStream object store, chunked, replicated like the log). */
export const BLOB_BUCKET = 'strata_blobs';
const blobSubject = (nodeId: string) => `strata.node.${nodeId}.blob`;
const SHARE_TIMEOUT_MS = 300_000;

/**
 * Layers across nodes: a node about to use an image whose blobs it lacks asks the node that recorded
 * the image (the ImageCreated event's nodeId) to share them; that node puts each one into the object
 * store bucket, and this node streams it into its own content store, verified by digest and size like
 * any other put. Blobs already in the bucket are not asked for again.
 */
@Injectable()
export class BlobExchange implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('cluster');
  private bucket: Promise<ObjectStore> | null = null;
  private subscription: Subscription | null = null;
  private serving: Promise<void> | null = null;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    private readonly nats: NatsClient,
    @Inject(CONTENT_STORE) private readonly content: ContentStore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  private objects(): Promise<ObjectStore> {
    const nc = this.nats.connection!;
    this.bucket ??= new Objm(nc).create(BLOB_BUCKET, { replicas: this.config.natsReplicas });
    return this.bucket;
  }

  /** Serves share requests for this node's blobs: `{digest}` in, `{ok}` out once the blob is in the bucket. */
  onApplicationBootstrap(): void {
    const nc = this.nats.connection;
    if (!nc) return;
    const subscription = nc.subscribe(blobSubject(this.config.nodeId));
    this.subscription = subscription;
    this.serving = (async () => {
      for await (const m of subscription) {
        void (async () => {
          try {
            const { digest } = m.json<{ digest: string }>();
            await this.share(digest);
            m.respond(JSON.stringify({ ok: true }));
          } catch (error) {
            m.respond(JSON.stringify({ ok: false, error: String((error as Error)?.message ?? error) }));
          }
        })();
      }
    })();
  }

  private async share(digest: string): Promise<void> {
    const bucket = await this.objects();
    if (await bucket.info(digest)) return;
    const info = await this.content.info(digest);
    if (!info) throw new Error(`node ${this.config.nodeId} does not have ${digest}`);
    await bucket.put({ name: digest, description: `${info.size} bytes` }, Readable.toWeb(this.content.read(digest)) as ReadableStream<Uint8Array>);
  }

  /** Makes sure every blob of `image` is in this node's content store (no-op without NATS, or when all are here). */
  async ensure(image: ImageView): Promise<void> {
    if (!this.nats.connection) return;
    const wanted = [
      { digest: image.manifestDigest, size: undefined as number | undefined },
      { digest: image.imageId, size: undefined },
      ...image.layers.map((l) => ({ digest: l.digest, size: l.size as number | undefined })),
    ];
    const missing = [];
    for (const blob of wanted) if (!(await this.content.has(blob.digest))) missing.push(blob);
    if (missing.length === 0) return;
    const origin = await this.originOf(image.manifestDigest);
    const bucket = await this.objects();
    for (const blob of missing) {
      if (!(await bucket.info(blob.digest))) {
        if (!origin || origin === this.config.nodeId) throw notAvailable(blob.digest, origin);
        const reply = await this.nats
          .connection!.request(blobSubject(origin), JSON.stringify({ digest: blob.digest }), { timeout: SHARE_TIMEOUT_MS })
          .catch(() => null);
        const answer = reply?.json<{ ok: boolean; error?: string }>();
        if (!answer?.ok) throw notAvailable(blob.digest, origin, answer?.error);
      }
      const result = await bucket.get(blob.digest);
      if (!result) throw notAvailable(blob.digest, origin);
      await this.content.put(Readable.fromWeb(result.data as never), { expectedDigest: blob.digest, expectedSize: blob.size });
      this.logger.log({ msg: 'fetched a blob from the cluster', digest: blob.digest, from: origin });
    }
  }

  /** The node that recorded the image: it has the blobs. */
  private async originOf(manifestDigest: string): Promise<string | null> {
    const events = await this.store.readStream(imageStreamId(manifestDigest));
    return events.find((e) => e.type === 'ImageCreated')?.nodeId ?? null;
  }

  async onModuleDestroy(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.serving;
  }
}

function notAvailable(digest: string, origin: string | null, why?: string): ApiError {
  return new ApiError(
    503,
    'BLOB_NOT_AVAILABLE',
    `blob ${digest} is not on this node and node ${origin ?? '(unknown)'} could not share it${why ? ` (${why})` : ''}: import or pull the image here, or bring that node back`,
    { digest, origin },
  );
}
