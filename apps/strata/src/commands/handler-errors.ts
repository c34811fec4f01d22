import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { UnhandledExceptionBus } from '@nestjs/cqrs';
import type { Subscription } from 'rxjs';
import { Metrics } from '../metrics/metrics.js';

/**
 * Errors thrown by local event handlers and sagas: @nestjs/cqrs catches them (the process never
 * crashes); here they are logged with the event that caused them and counted in the metrics,
 * so none is lost silently. The event itself is safe in the log either way.
 */
@Injectable()
export class HandlerErrors implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('event-handlers');
  private subscription?: Subscription;

  constructor(
    private readonly bus: UnhandledExceptionBus,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.subscription = this.bus.subscribe(({ exception, cause }) => {
      this.metrics.handlerErrors.inc();
      const event = (cause as { event?: { type?: string; position?: number } }).event;
      this.logger.error({
        msg: 'event handler failed',
        eventType: event?.type,
        position: event?.position,
        error: exception instanceof Error ? exception.message : String(exception),
        stack: exception instanceof Error ? exception.stack : undefined,
      });
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
