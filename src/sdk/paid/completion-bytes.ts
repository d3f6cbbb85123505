import { utf8Length } from '../../core/credit/index.js';

/**
 * UTF-8 bytes of what a runner generated, as the payer received it: content, reasoning and tool calls of chat
 * choices (message or stream delta), or `text` of completion choices. The payer bounds the output tokens it pays by
 * these bytes.
 */
export function completionBytesOf(answer: unknown): number {
  if (typeof answer !== 'object' || answer === null) return 0;
  const choices = (answer as { choices?: unknown }).choices;
  if (!Array.isArray(choices)) return 0;
  let bytes = 0;
  for (const choice of choices as unknown[]) {
    if (typeof choice !== 'object' || choice === null) continue;
    const c = choice as Record<string, unknown>;
    if (typeof c.text === 'string') bytes += utf8Length(c.text);
    const message = (c.message ?? c.delta) as Record<string, unknown> | undefined;
    if (typeof message !== 'object' || message === null) continue;
    if (typeof message.content === 'string') bytes += utf8Length(message.content);
    if (typeof message.reasoning_content === 'string') bytes += utf8Length(message.reasoning_content);
    if (Array.isArray(message.tool_calls)) bytes += utf8Length(JSON.stringify(message.tool_calls));
  }
  return bytes;
}
