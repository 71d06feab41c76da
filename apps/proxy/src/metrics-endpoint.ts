// GET /metrics on the metrics port: the exposition streamed as it is written (metrics.ts expose), so a
// scrape at 10,000 pods neither holds the event loop nor builds its megabytes of text in one string. A
// slow scraper holds the walk back (the socket's backpressure) rather than buffering the whole text.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { ProxyMetrics } from './metrics.ts';
import { yieldToLoop } from './ring-builder.ts';

export function serveMetrics(metrics: ProxyMetrics, res: ServerResponse): void {
  let started = false;
  metrics
    .expose(
      (chunk) => {
        if (!started) {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          started = true;
        }
        // A scraper that hung up gets nothing more; the rest of the walk is only a few slices.
        if (!res.destroyed) res.write(chunk);
      },
      () => slowScraper(res),
    )
    .then(
      () => res.end(),
      (err: Error) => {
        if (started) {
          // Part of the text is out: a cut-off body is all that can say it failed.
          res.destroy();
          return;
        }
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics failed: ${err.message}`);
      },
    );
}

/**
 * Between two slices: the next turn of the event loop, after the socket took what was buffered (or went
 * away) when it holds more than its high-water mark.
 */
async function slowScraper(res: ServerResponse): Promise<void> {
  if (res.writableNeedDrain && !res.destroyed) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  await yieldToLoop();
}
