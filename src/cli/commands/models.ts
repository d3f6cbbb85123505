import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';

import type { Command } from 'commander';

import { formatIssue } from '../../core/manifest/index.js';
import { MAX_MANIFEST_BYTES } from '../../core/registry/limits.js';
import { safeParseManifestText } from '../../core/manifest/parse-text.js';
import { CodedError } from '../../core/errors/coded-error.js';
import { DeaiError, isDeaiError } from '../../sdk/errors.js';
import { CliError } from '../errors.js';
import { clientOptions, connectClient, runClient, table, type ClientFlags } from '../client.js';
import { output } from '../output.js';
import { registerNamespaces } from './namespaces.js';

/**
 * At most `maxBytes + 1` bytes of `file`, so that one more than the limit tells "too large" without reading the rest:
 * `/dev/zero`, a FIFO or a sparse terabyte file cost no more than a small manifest.
 */
function readAtMost(file: string, maxBytes: number): Buffer {
  const buffer = Buffer.alloc(maxBytes + 1);
  const fd = openSync(file, 'r');
  try {
    let filled = 0;
    while (filled < buffer.length) {
      const read = readSync(fd, buffer, filled, buffer.length - filled, null);
      if (read === 0) break;
      filled += read;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates a ModelCard manifest (YAML or JSON); the error lists every issue with its path. */
export function readModelCard(file: string): object {
  let bytes: Buffer;
  try {
    bytes = readAtMost(file, MAX_MANIFEST_BYTES);
  } catch (error) {
    throw new CliError('ManifestNotFound', `Cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error
    });
  }
  if (bytes.length > MAX_MANIFEST_BYTES)
    throw new CliError(
      'ManifestTooLarge',
      `${file} is larger than ${MAX_MANIFEST_BYTES} bytes, the most the registry accepts for a manifest (MAX_MANIFEST_BYTES)`
    );
  const text = bytes.toString('utf8');
  const parsed = safeParseManifestText(text, basename(file));
  if (!parsed.ok) {
    const issues = parsed.issues.map((i) => `  - ${formatIssue(i)}`).join('\n');
    throw new CodedError(
      parsed.code,
      `${file} is not a valid manifest (${parsed.issues.length} issue${parsed.issues.length === 1 ? '' : 's'}):\n${issues}`,
      { details: { issues: parsed.issues } }
    );
  }
  if (parsed.manifest.kind !== 'ModelCard')
    throw new CodedError('InvalidManifest', `${file} is a ${parsed.manifest.kind}, expected kind: ModelCard`);
  return parsed.manifest;
}

export function registerModels(program: Command): void {
  const models = program.command('models').description('browse and publish model cards');

  clientOptions(models.command('list').description('list published model cards'))
    .option('--family <family>', 'only this model family')
    .action(async (flags: ClientFlags & { family?: string }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const cards = await client.listModels(flags.family === undefined ? {} : { family: flags.family });
        const human =
          cards.length === 0
            ? 'No model cards published.'
            : table(
                ['ID', 'VERSION', 'FAMILY', 'FORMAT', 'QUANT', 'CONTEXT', 'DIGEST'],
                cards.map((c) => [c.id, c.version, c.family, c.format, c.quantization, c.contextLength.toString(), c.digest])
              );
        output(flags.json).result(
          human,
          cards.map(({ manifestJson: _manifest, ...card }) => card)
        );
      })
    );

  clientOptions(models.command('show <id>').description('show one model card (its latest version, in version order, unless --digest)'))
    .option('--digest <digest>', 'a specific version, by digest')
    .action(async (id: string, flags: ClientFlags & { digest?: string }) =>
      runClient(flags.json, async () => {
        const client = await connectClient(flags);
        const card = await client.getModel(id, flags.digest).catch((error: unknown) => {
          if (isDeaiError(error, 'NotFound')) {
            throw new DeaiError('NotFound', `no model card ${id}${flags.digest === undefined ? '' : `@${flags.digest}`}`, error.details, {
              cause: error
            });
          }
          throw error;
        });
        const manifest: unknown = JSON.parse(card.manifestJson);
        const rows: Array<[string, string]> = [
          ['id', card.id],
          ['version', card.version],
          ['digest', card.digest],
          ['family', card.family],
          ['architecture', card.architecture],
          ['format', card.format],
          ['quantization', `${card.quantization} (${card.bits} bits)`],
          ['context', card.contextLength.toString()],
          ['published by', card.publishedBy],
          ...(card.deprecated === undefined ? [] : [['deprecated', card.deprecated.reason] as [string, string]])
        ];
        const { manifestJson: _manifest, ...rest } = card;
        output(flags.json).result(rows.map(([k, v]) => `${k.padEnd(13)} ${v}`).join('\n'), { ...rest, manifest });
      })
    );

  clientOptions(
    models.command('publish <manifest>').description('validate a ModelCard manifest (YAML or JSON) locally, then publish it')
  ).action(async (file: string, flags: ClientFlags) =>
    runClient(flags.json, async () => {
      const card = readModelCard(file);
      const client = await connectClient(flags);
      const published = await client.publishModel(card);
      output(flags.json).result(`Published ${published.id} (${published.digest})`, published);
    })
  );

  registerNamespaces(models);
}
