import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  AUTH_HEADERS,
  checkAuthHeaders,
  chargeToJson,
  inputTokenBoundOf,
  meteredCostE8sOf,
  requestBoundOf,
  signedReceiptToJson,
  verifyRequestAuth,
  worstCaseCostE8s,
  type Charge,
  type CreditLineView,
  type ExposureLimits,
  type RunnerCreditApi
} from '../../core/credit/index.js';
import type { Prices } from '../../core/rewards/pricing.js';
import { httpPost } from '../../inference/http-post.js';
import type { HttpPost } from '../../sdk/bounded-body.js';
import { LineBook } from './line-book.js';
import type { EngineUsage } from './proxy.js';
import { CHARGE_HEADER, serveUpstream, type EngineCall } from './upstream.js';
import { ReceiptStore } from './receipt-store.js';
import { authError, json, lineError, NOT_DURABLE, parseReceipt, readBody, sendError, sendReceiptError } from './responses.js';
import { nativeVerifyPayerSignature } from './native-verify.js';
import { NonceCache } from './nonce-cache.js';
import { Settler } from './settler.js';

/** One model the runner posts prices for (a deployment of its manifest). */
export interface MeteredModel {
  id: string;
  prices: Prices;
  servedContext?: number;
}

export interface MeteredServerOptions {
  /** The runner's principal: requests must be signed for it, lines and receipts must name it. */
  runner: string;
  engineUrl: string;
  /** The id the engine serves its model under. */
  engineModel: string;
  models: MeteredModel[];
  credit: RunnerCreditApi;
  /** Where the payers' latest receipts are kept (JSON, replaced atomically). */
  receiptsFile: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  limits?: Partial<ExposureLimits>;
  /** How long a line's registry view is trusted (default 2 s). */
  lineCacheMs?: number;
  /** Settle alone when the payer has not settled a receipt this long (default 10 min). */
  settleAfterMs?: number;
  /** How often held receipts are checked for settling alone (default 30 s; 0: only when `settler.tick()` is called). */
  settleCheckMs?: number;
  maxBodyBytes?: number;
  /** Most open connections (default 1024); more are dropped as they connect. */
  maxConnections?: number;
  /** A charge no receipt covers after this long becomes the payer's debt: it is refused until it signs (default 10 min). */
  chargeAckMs?: number;
  nowMs?: () => number;
  /** How the engine is called (default: Node's HTTP client, src/inference/http-post.ts; `fetch` fits too). */
  fetch?: HttpPost;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface MeteredServer {
  url: string;
  server: Server;
  settler: Settler;
  close(): Promise<void>;
}

export const DEFAULT_LIMITS: ExposureLimits = { maxUnsignedE8s: 100_000_000n, maxUnsignedRequests: 32 };

/**
 * The runner's metered OpenAI endpoint (README "Metered runner endpoint"): authenticated by the payer's signature,
 * refused without credit on the payer's line toward this runner, metered with the engine's usage, priced with the
 * runner's posted prices, and charged back to the payer, who answers with signed cumulative receipts.
 */
export async function startMeteredServer(o: MeteredServerOptions): Promise<MeteredServer> {
  const nowMs = o.nowMs ?? Date.now;
  const log = o.log ?? (() => undefined);
  const engine: EngineCall = { url: o.engineUrl, model: o.engineModel, post: o.fetch ?? httpPost, log };
  const store = new ReceiptStore(o.receiptsFile);
  const nonces = new NonceCache();
  const book = new LineBook({
    runner: o.runner,
    credit: o.credit,
    store,
    limits: { ...DEFAULT_LIMITS, ...o.limits },
    lineCacheMs: o.lineCacheMs ?? 2_000,
    nowMs,
    verify: nativeVerifyPayerSignature,
    ...(o.chargeAckMs === undefined ? {} : { chargeAckMs: o.chargeAckMs })
  });
  const settler = new Settler({ credit: o.credit, store, settleAfterMs: o.settleAfterMs ?? 600_000, nowMs, log });
  const maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;

  /**
   * Authenticates a signed request: its headers' shape and expiry, the signer's line and the body's size are checked
   * before the body is read, the signature after, and the nonce is recorded last (throwaway keys without a line of
   * their own toward this runner record nothing). Sends the refusal and returns undefined when it fails.
   */
  async function authenticate(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    maxBytes: number
  ): Promise<{ payer: string; lineId: bigint; view: CreditLineView; bytes: Uint8Array } | undefined> {
    const headers = req.headers as Record<string, string | undefined>;
    // Refused before the body is read: the connection closes rather than drain what the client still sends.
    res.setHeader('connection', 'close');
    const fields = checkAuthHeaders(headers, BigInt(nowMs()) * 1_000_000n);
    if (!fields.ok) return void sendError(res, authError(fields.problem));
    const declared = Number(headers['content-length'] ?? 0);
    if (declared > maxBytes)
      return void sendError(res, {
        status: 413,
        type: 'invalid_request_error',
        code: 'body_too_large',
        message: `body over ${maxBytes} bytes`
      });
    const { payer, lineId } = fields.value;
    const view = await book.view(lineId);
    if (view === undefined) return void sendError(res, lineError({ code: 'NoLine' }));
    if (view.runner !== o.runner || view.payer !== payer) return void sendError(res, lineError({ code: 'NotYourLine' }));
    const bytes = await readBody(req, maxBytes);
    res.removeHeader('connection');
    if (bytes === undefined)
      return void sendError(res, {
        status: 413,
        type: 'invalid_request_error',
        code: 'body_too_large',
        message: `body over ${maxBytes} bytes`
      });
    const nowNs = BigInt(nowMs()) * 1_000_000n;
    const method = req.method ?? 'POST';
    const auth = verifyRequestAuth(headers, { runner: o.runner, method, path, body: bytes }, nowNs, nativeVerifyPayerSignature);
    if (!auth.ok) return void sendError(res, authError(auth.problem));
    const admitted = nonces.admit(lineId.toString(), auth.value.nonceHex, auth.value.expiresAtNs, nowNs);
    if (admitted === 'replay')
      return void sendError(res, {
        status: 401,
        type: 'authentication_error',
        code: 'replayed_nonce',
        message: 'this nonce was already used'
      });
    if (admitted === 'full')
      return void sendError(res, { status: 429, type: 'rate_limit_error', code: 'busy', message: 'too many requests in flight; retry' });
    return { payer, lineId, view, bytes };
  }

  async function metered(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const authed = await authenticate(req, res, path, maxBody);
    if (authed === undefined) return;
    const { payer, lineId, bytes } = authed;
    const headers = req.headers as Record<string, string | undefined>;
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return sendError(res, { status: 400, type: 'invalid_request_error', code: 'invalid_json', message: 'the body is not a JSON object' });
    }
    const receiptHeader = headers[AUTH_HEADERS.receipt];
    if (receiptHeader !== undefined) {
      const receipt = parseReceipt(receiptHeader);
      if (receipt?.signed === undefined)
        return sendError(res, { status: 400, type: 'invalid_request_error', code: 'invalid_receipt', message: 'malformed x-deai-receipt' });
      const refused = await book.acceptReceipt(receipt.signed, receipt.covers, payer);
      // An older receipt than the one held is a concurrent request's: served. One owing less under a newer seq is not.
      if (refused !== undefined && refused.code !== 'Stale') return sendReceiptError(res, refused, book.held(lineId));
    }
    // The payer takes a 2xx as this runner holding its receipt: the receipt's log line is fsynced (with those of
    // concurrent requests) while the engine works, and awaited before the answer's status goes out. A request without
    // one waits for no one's fsync.
    const durable = receiptHeader === undefined ? Promise.resolve() : store.flush();
    durable.catch(() => undefined);
    const model =
      o.models.find((m) => m.id === body.model) ?? (o.models.length === 1 && body.model === undefined ? o.models[0] : undefined);
    if (model === undefined)
      return sendError(res, {
        status: 404,
        type: 'invalid_request_error',
        code: 'model_not_found',
        message: `this runner does not serve ${String(body.model)}`
      });
    const bound = requestBoundOf(path, body);
    if (typeof bound === 'string')
      return sendError(res, { status: 400, type: 'invalid_request_error', code: 'invalid_request', message: bound });
    const worstE8s = worstCaseCostE8s(model.prices, bound, model.servedContext);
    const refusal = await book.admit(lineId, payer, worstE8s);
    if (refusal !== undefined) return sendError(res, lineError(refusal));
    let charged = false;
    const inputBound = inputTokenBoundOf(bound.promptBytes, model.servedContext);
    const charge = (usage: EngineUsage): Charge => {
      charged = true;
      // The charge is capped at the worst case priced; usage beyond the bounds means the engine ran past them.
      if (usage.outputTokens > BigInt(bound.maxTokens) || usage.inputTokens > inputBound)
        log('metered-usage-above-bound', {
          inputTokens: usage.inputTokens.toString(),
          inputBound: inputBound.toString(),
          outputTokens: usage.outputTokens.toString(),
          maxTokens: bound.maxTokens
        });
      return book.charge(lineId, worstE8s, { ...usage, costE8s: meteredCostE8sOf(model.prices, usage) });
    };
    try {
      await serveUpstream(engine, res, path, body, bound.maxTokens, inputBound, charge, durable);
    } finally {
      if (!charged) book.release(lineId, worstE8s);
    }
  }

  async function receipts(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const bytes = await readBody(req, 64 * 1024);
    const receipt = bytes === undefined ? undefined : parseReceipt(new TextDecoder().decode(bytes));
    if (receipt?.signed === undefined)
      return sendError(res, { status: 400, type: 'invalid_request_error', code: 'invalid_receipt', message: 'malformed receipt' });
    const refused = await book.acceptReceipt(receipt.signed, receipt.covers);
    if (refused !== undefined) return sendReceiptError(res, refused, book.held(receipt.signed.receipt.lineId));
    try {
      await store.flush();
    } catch (error) {
      log('metered-receipt-not-durable', { error: String(error) });
      return sendError(res, NOT_DURABLE);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, line_id: receipt.signed.receipt.lineId.toString(), seq: receipt.signed.receipt.seq.toString() }));
  }

  /**
   * `GET /deai/v1/charges?line=<id>`, signed like a metered request (empty body): the line's charges no receipt covers
   * yet (a stream the payer lost, say) and the latest receipt held, so the payer can sign for them or resume its books.
   */
  async function charges(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const asked = /^\/deai\/v1\/charges\?line=(\d{1,19})$/.exec(path)?.[1];
    const authed = await authenticate(req, res, path, 0);
    if (authed === undefined) return;
    if (asked === undefined || BigInt(asked) !== authed.lineId)
      return sendError(res, {
        status: 400,
        type: 'invalid_request_error',
        code: 'invalid_request',
        message: 'line= must name the signed line'
      });
    const out = await book.outstanding(authed.lineId);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      json({
        line_id: authed.lineId,
        claim_e8s: out.claimE8s,
        charges: out.charges.map((c) => chargeToJson(c)),
        ...(out.held === undefined ? {} : { held_receipt: signedReceiptToJson(out.held) }),
        ...(out.debt === undefined ? {} : { debt: { line_id: out.debt.lineId, claim_e8s: out.debt.claimE8s } })
      })
    );
  }

  function models(res: ServerResponse): void {
    const data = o.models.map((m) => ({
      id: m.id,
      object: 'model',
      owned_by: o.runner,
      context_length: m.servedContext ?? null,
      pricing: { input_per_million_e8s: m.prices.inputPerMillion.toString(), output_per_million_e8s: m.prices.outputPerMillion.toString() }
    }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data }));
  }

  const server = createServer((req, res) => {
    // Pages in a browser pay runners directly (the SDK's direct chat): any origin, the auth headers, the charge header.
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', CHARGE_HEADER);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': '*',
        'access-control-max-age': '600'
      });
      res.end();
      return;
    }
    const path = req.url ?? '/';
    const route = `${req.method ?? 'GET'} ${path}`;
    const handled =
      route === 'POST /v1/chat/completions' || route === 'POST /v1/completions'
        ? metered(req, res, path)
        : route === 'POST /deai/v1/receipts'
          ? receipts(req, res)
          : route.startsWith('GET /deai/v1/charges?')
            ? charges(req, res, path)
            : route === 'GET /v1/models'
              ? Promise.resolve(models(res))
              : Promise.resolve(
                  sendError(res, { status: 404, type: 'invalid_request_error', code: 'not_found', message: `no route ${route}` })
                );
    handled.catch((error: unknown) => {
      log('metered-request-failed', { route, error: String(error) });
      if (!res.headersSent) sendError(res, { status: 500, type: 'server_error', code: 'internal', message: 'internal error' });
      else res.end();
    });
  });
  server.maxConnections = o.maxConnections ?? 1024;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  if (o.settleCheckMs !== 0) settler.start(o.settleCheckMs ?? 30_000);
  return {
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`,
    server,
    settler,
    close: async () => {
      await settler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.flush();
    }
  };
}
