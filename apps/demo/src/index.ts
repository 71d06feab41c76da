// The demo's launcher, for its tests: the entry points it starts and its defaults.
export { DEMO_PODS_PER_ROLE, DEMO_PROXY_DEFAULTS, DEMO_STOP_TIMEOUT_MS, PROXY_MAIN, SIM_MAIN } from './launcher.ts';
