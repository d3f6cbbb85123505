import { ANSWER_BODY_MAX_BYTES } from '../sdk/bounded-body.js';
import { isRecord } from './sse.js';
import { UpstreamError, sseWeightOf, type UpstreamPath } from './transport.js';

/**
 * A plain (unstreamed) OpenAI answer put together from the chunks of a streamed one. The gateway asks runners to stream
 * even when its client wants one JSON answer, so that a runner which takes the request and never starts is left for the
 * next one after the time-to-first-token limit (as for streams), instead of holding the client until the whole-answer
 * limit. The result has the shape the engine's own plain answer has: `chat.completion` with each choice's `message`
 * (content, reasoning_content, refusal and tool_calls joined from their deltas) or `text_completion` with each choice's
 * `text`; `finish_reason` and `logprobs` as the chunks gave them. `usage` is the gateway's to add.
 *
 * Bounded as the engine's plain answer would be (64 Mi characters of chunks and of text kept, at most MAX_CHOICES
 * choices and MAX_TOOL_CALLS tool calls each): a runner streaming past that is a BadResponse.
 */

const MAX_CHOICES = 128;
const MAX_TOOL_CALLS = 128;
/** Top-level fields kept from the chunks (id, created, model, system_fingerprint, an engine's own such as timings). */
const MAX_TOP_FIELDS = 64;
/** Delta fields that are text to join; any other delta field is kept as the last chunk gave it. */
const TEXT_FIELDS = ['content', 'reasoning_content', 'refusal'] as const;

interface ToolCall {
  id?: unknown;
  type?: unknown;
  name: string[];
  arguments: string[];
}

interface Choice {
  index: number;
  text: Partial<Record<(typeof TEXT_FIELDS)[number] | 'text', string[]>>;
  other: Record<string, unknown>;
  toolCalls: Map<number, ToolCall>;
  finishReason: unknown;
  /** Chat: logprobs.content and logprobs.refusal joined; completions: each array of the legacy logprobs joined. */
  logprobs: Record<string, unknown[]> | undefined;
}

export class AnswerAssembler {
  /** Without a prototype: a runner's `__proto__` key is a field like any other. */
  private readonly top: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  private topFields = 0;
  private readonly choices = new Map<number, Choice>();
  private chars = 0;

  constructor(
    private readonly path: UpstreamPath,
    private readonly maxChars = ANSWER_BODY_MAX_BYTES
  ) {}

  /** Adds one streamed chunk (the usage-only chunk included); throws UpstreamError BadResponse past the bounds. */
  add(chunk: Record<string, unknown>): void {
    // What the chunk's text weighed (where its transport kept it) and the text kept from it count toward the bound.
    this.count(sseWeightOf(chunk) ?? 0);
    const { choices, usage: _usage, object: _object, ...rest } = chunk;
    // The first chunk names the answer (id, created); later ones may add fields (llama.cpp's timings), set in place (a
    // copy per chunk would cost a runner's every new key again on each later chunk), at most MAX_TOP_FIELDS of them.
    for (const [key, value] of Object.entries(rest)) {
      if (key in this.top ? key === 'id' || key === 'created' : this.topFields >= MAX_TOP_FIELDS) continue;
      if (!(key in this.top)) this.topFields += 1;
      this.top[key] = value;
    }
    if (!Array.isArray(choices)) return;
    for (const part of choices) {
      if (!isRecord(part)) throw this.bad('a choice that is not an object');
      const index = part.index ?? 0;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_CHOICES)
        throw this.bad(`a choice index that is not an integer below ${MAX_CHOICES}`);
      const choice = this.choiceAt(index);
      if (part.finish_reason !== undefined && part.finish_reason !== null) choice.finishReason = part.finish_reason;
      if (isRecord(part.logprobs)) this.joinLogprobs(choice, part.logprobs);
      if (this.path === '/v1/completions') {
        if (typeof part.text === 'string') this.append(choice, 'text', part.text);
        continue;
      }
      if (!isRecord(part.delta)) continue;
      for (const [field, value] of Object.entries(part.delta)) {
        if ((TEXT_FIELDS as readonly string[]).includes(field)) {
          if (typeof value === 'string') this.append(choice, field as (typeof TEXT_FIELDS)[number], value);
        } else if (field === 'tool_calls') {
          if (Array.isArray(value)) for (const call of value) this.addToolCall(choice, call);
        } else if (value !== null && value !== undefined) choice.other[field] = value;
      }
    }
  }

  /** The whole answer, without `usage`. */
  answer(): Record<string, unknown> {
    const chat = this.path === '/v1/chat/completions';
    const choices = [...this.choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((c) => {
        const logprobs = c.logprobs ?? null;
        if (!chat) return { index: c.index, text: (c.text.text ?? []).join(''), logprobs, finish_reason: c.finishReason ?? null };
        const message: Record<string, unknown> = { role: 'assistant', ...c.other, content: c.text.content?.join('') ?? null };
        if (c.text.reasoning_content !== undefined) message.reasoning_content = c.text.reasoning_content.join('');
        if (c.text.refusal !== undefined) message.refusal = c.text.refusal.join('');
        if (c.toolCalls.size > 0)
          message.tool_calls = [...c.toolCalls.entries()]
            .sort(([a], [b]) => a - b)
            .map(([, t]) => ({
              ...(t.id === undefined ? {} : { id: t.id }),
              type: t.type ?? 'function',
              function: { name: t.name.join(''), arguments: t.arguments.join('') }
            }));
        return { index: c.index, message, logprobs, finish_reason: c.finishReason ?? null };
      });
    return { ...this.top, object: chat ? 'chat.completion' : 'text_completion', choices };
  }

  private choiceAt(index: number): Choice {
    let choice = this.choices.get(index);
    if (choice === undefined) {
      const other = Object.create(null) as Record<string, unknown>;
      choice = { index, text: {}, other, toolCalls: new Map(), finishReason: undefined, logprobs: undefined };
      this.choices.set(index, choice);
    }
    return choice;
  }

  private append(choice: Choice, field: keyof Choice['text'], text: string): void {
    this.count(text.length);
    (choice.text[field] ??= []).push(text);
  }

  private addToolCall(choice: Choice, call: unknown): void {
    if (!isRecord(call)) throw this.bad('a tool call that is not an object');
    const index = call.index ?? 0;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_TOOL_CALLS)
      throw this.bad(`a tool call index that is not an integer below ${MAX_TOOL_CALLS}`);
    let tool = choice.toolCalls.get(index);
    if (tool === undefined) {
      tool = { name: [], arguments: [] };
      choice.toolCalls.set(index, tool);
    }
    if (typeof call.id === 'string' && call.id.length > 0) tool.id = call.id;
    if (typeof call.type === 'string') tool.type = call.type;
    const fn = isRecord(call.function) ? call.function : {};
    if (typeof fn.name === 'string') {
      this.count(fn.name.length);
      tool.name.push(fn.name);
    }
    if (typeof fn.arguments === 'string') {
      this.count(fn.arguments.length);
      tool.arguments.push(fn.arguments);
    }
  }

  private joinLogprobs(choice: Choice, logprobs: Record<string, unknown>): void {
    for (const [field, value] of Object.entries(logprobs)) {
      if (!Array.isArray(value)) continue;
      this.count(value.length);
      const joined = ((choice.logprobs ??= Object.create(null) as Record<string, unknown[]>)[field] ??= []);
      for (const item of value) joined.push(item);
    }
  }

  private count(chars: number): void {
    this.chars += chars;
    if (this.chars > this.maxChars) throw this.bad(`an answer beyond ${this.maxChars} characters`);
  }

  private bad(what: string): UpstreamError {
    return new UpstreamError('BadResponse', `the runner streamed ${what}`);
  }
}
