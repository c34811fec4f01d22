import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The node's Prometheus metrics, on a registry of its own (several nodes can share a test process). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'strata_commands_total',
    help: 'Commands executed, by command and outcome (ok, unchanged, duplicate, conflict, error)',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly eventsAppended = new Counter({
    name: 'strata_events_appended_total',
    help: 'Events appended to the log by this node',
    registers: [this.registry],
  });
  readonly handlerErrors = new Counter({
    name: 'strata_event_handler_errors_total',
    help: 'Errors thrown by local event handlers and sagas (logged, never fatal)',
    registers: [this.registry],
  });
  readonly httpRequests = new Histogram({
    name: 'strata_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly registryPulls = new Counter({
    name: 'strata_registry_pulls_total',
    help: 'Manifests served by /v2/ GET, by repository visibility (private pulls are also ImagePulled events)',
    labelNames: ['visibility'] as const,
    registers: [this.registry],
  });
  readonly projectionLag = new Gauge({
    name: 'strata_projection_lag_events',
    help: 'Events between the log head and each projection',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'strata_' });
  }
}
