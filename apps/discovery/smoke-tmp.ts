import { startLocalCluster } from './scripts/local-cluster.ts';

const t0 = Date.now();
const c = await startLocalCluster({
  prefill: 8,
  decode: 8,
  leaseDurationSecs: 2,
  debounceMs: 50,
  heartbeatSecs: 2,
  onLine: (c, l) => {
    if (!l.includes('snapshot applied') && !l.includes('snapshot published')) console.log(c, l.slice(0, 300));
  },
});
console.log('started in', Date.now() - t0);
for (let i = 0; i < 30; i++) {
  const s = await Promise.all(c.proxies.map((p) => p.adminState()));
  const d = await Promise.all(c.discoveries.map((p) => p.state()));
  console.log(JSON.stringify(s.map((x) => x.snapshot)), JSON.stringify(d.map((x) => [x.leader, x.seq, x.fingerprint])));
  if (s.every((x) => x.snapshot)) break;
  await new Promise((r) => setTimeout(r, 500));
}
await c.close();
