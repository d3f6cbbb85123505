/** What the agent reports for a rejected call: reject code, the replica's error code, the reject message. */
export interface AgentReject {
  code: number;
  errorCode: string | undefined;
  message: string;
}

/** Awaits a call that must be rejected and returns the reject the agent decoded (its error's cause code). */
export async function agentReject(call: Promise<unknown>): Promise<AgentReject> {
  try {
    await call;
  } catch (error) {
    const code: unknown = (error as { cause?: { code?: unknown } }).cause?.code;
    if (typeof code === 'object' && code !== null && 'rejectCode' in code && 'rejectMessage' in code) {
      const reject = code as { rejectCode: unknown; rejectMessage: unknown; rejectErrorCode?: unknown };
      return {
        code: Number(reject.rejectCode),
        errorCode: typeof reject.rejectErrorCode === 'string' ? reject.rejectErrorCode : undefined,
        message: String(reject.rejectMessage)
      };
    }
    throw error;
  }
  throw new Error('the call was not rejected');
}
