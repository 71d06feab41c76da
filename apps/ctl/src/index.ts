// @pdrouter/ctl as a library: the snapshot loader pdrouterctl uses (the CLI itself is src/main.ts).
export type { SnapshotInputOptions } from './snapshot-input.ts';
export { isNatsSource, loadSnapshot } from './snapshot-input.ts';
