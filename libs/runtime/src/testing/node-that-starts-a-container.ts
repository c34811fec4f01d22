// A stand-in for a Strata node, run as its own process by the reattach test: it starts one container,
// says so on stdout, and idles until it is killed, so the test can SIGKILL "the node" mid-run.
import { RuncRuntime, type RuncRuntimeOptions } from '../runc/runc-runtime.js';
import type { RuncContainerSpec } from '../runc/bundle.js';

const { options, spec } = JSON.parse(process.argv[2]!) as { options: RuncRuntimeOptions; spec: RuncContainerSpec };
const started = await new RuncRuntime(options).start(spec);
process.stdout.write(`${JSON.stringify(started)}\n`);
setInterval(() => undefined, 60_000);
