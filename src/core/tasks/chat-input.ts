import { z } from 'zod';

/**
 * The text of a task's inline input. A plain prompt is one user message; a conversation (a system prompt, earlier
 * turns) travels as the JSON document `{"deai":"chat/v1","messages":[…]}` so that runners pass the roles on to the
 * engine's chat endpoint instead of flattening them. Anything that is not exactly such a document is a prompt.
 */
export const CHAT_INPUT_TAG = 'chat/v1';
export const MAX_CHAT_MESSAGES = 256;

export const ChatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string()
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const ChatInputSchema = z.strictObject({
  deai: z.literal(CHAT_INPUT_TAG),
  messages: z.array(ChatMessageSchema).min(1).max(MAX_CHAT_MESSAGES)
});

/** The inline input for `messages`: the bare prompt for a single user message, else the tagged JSON document. */
export function encodeChatInput(messages: readonly ChatMessage[]): string {
  const only = messages.length === 1 ? messages[0] : undefined;
  if (only !== undefined && only.role === 'user' && !looksLikeChatDocument(only.content)) return only.content;
  return JSON.stringify({ deai: CHAT_INPUT_TAG, messages });
}

/** The messages a task's inline input stands for (never throws: malformed documents are prompts). */
export function chatMessagesOf(input: string): ChatMessage[] {
  if (!looksLikeChatDocument(input)) return [{ role: 'user', content: input }];
  let json: unknown;
  try {
    json = JSON.parse(input);
  } catch {
    return [{ role: 'user', content: input }];
  }
  const parsed = ChatInputSchema.safeParse(json);
  return parsed.success ? parsed.data.messages : [{ role: 'user', content: input }];
}

/** A user prompt that is itself a chat document must be wrapped, or a runner would read it as one. */
function looksLikeChatDocument(text: string): boolean {
  return text.trimStart().startsWith('{') && text.includes(`"${CHAT_INPUT_TAG}"`);
}
