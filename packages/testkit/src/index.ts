export { findBinary, MissingBinaryError, requireBinary } from './find-binary.ts';
export type { NatsServer, NatsServerOptions } from './nats-server.ts';
export { NATS_START_TIMEOUT_MS, NATS_STOP_GRACE_MS, startNatsServer } from './nats-server.ts';
export { canConnect } from './tcp-probe.ts';
export type { WaitOptions } from './wait.ts';
export {
  DEFAULT_WAIT_INTERVAL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  StopWaiting,
  sleep,
  WaitTimeoutError,
  waitUntil,
  withDeadline,
} from './wait.ts';
