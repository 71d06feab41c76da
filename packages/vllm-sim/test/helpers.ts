import { SseParser } from '@pdrouter/core';
import { sampleValue, waitUntil } from '@pdrouter/testkit';
import OpenAI from 'openai';
import { request } from 'undici';
import { type SimFleet, type SimFleetOptions, SimPod, type SimPodOptions, startSimFleet } from '../src/index.ts';

/** Deadline of any wait in these tests (generous: the machine may be loaded). */
export const WAIT_DEADLINE_MS = 10_000;

const started: { close(): Promise<void> }[] = [];

/** Starts a pod on a random 127.0.0.1 port; stopAll() (in afterEach) stops it. */
export async function startPod(options: Partial<SimPodOptions> = {}): Promise<SimPod> {
  const pod = new SimPod({ name: 'plain-0', role: 'both', host: '127.0.0.1', port: 0, ...options });
  await pod.start();
  started.push({ close: () => pod.stop() });
  return pod;
}

export async function startFleet(options: SimFleetOptions): Promise<SimFleet> {
  const fleet = await startSimFleet({ host: '127.0.0.1', basePort: 0, ...options });
  started.push(fleet);
  return fleet;
}

export async function stopAll(): Promise<void> {
  const all = started.splice(0);
  await Promise.all(all.map((s) => s.close()));
}

export function openaiFor(url: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: WAIT_DEADLINE_MS });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

/** POSTs JSON with undici and reads the whole body (with a deadline). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headersTimeout: WAIT_DEADLINE_MS,
    bodyTimeout: WAIT_DEADLINE_MS,
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

export async function getText(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url, { headersTimeout: WAIT_DEADLINE_MS, bodyTimeout: WAIT_DEADLINE_MS });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The `data:` payloads of an SSE body, in order (parsed with the project's SSE parser). */
export function sseData(text: string): string[] {
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()].map((ev) => ev.data);
}

/** Polls `check` until it returns true or the deadline passes (then throws naming `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, deadlineMs = WAIT_DEADLINE_MS) {
  await waitUntil(check, { timeoutMs: deadlineMs, intervalMs: 10, description: what });
}

/** A prompt of exactly `n` tokens (words), distinct per `tag`. */
export function promptOf(n: number, tag = 'p'): string {
  return Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');
}

/** Value of a metric sample (name plus labels written `k="v",...`) in Prometheus text; undefined when absent. */
export function metricValue(text: string, name: string, labelPart = ''): number | undefined {
  const labels = Object.fromEntries([...labelPart.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  return sampleValue(text, name, labels);
}

/** The parts of vLLM bodies the tests read (the server's JSON, typed for assertions). */
export interface CompletionJson {
  id: string;
  choices: { text: string; finish_reason: string | null }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  kv_transfer_params: Record<string, unknown> | null;
}

export interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: number };
}

export interface ChunkJson {
  id: string;
  object: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string };
    finish_reason: string | null;
    stop_reason?: unknown;
  }[];
  usage?: unknown;
}
