import type { Command } from 'commander';

import type { NamespaceInfo } from '../../sdk/index.js';
import { DeaiError } from '../../sdk/errors.js';
import { clientOptions, connectClient, runClient, type ClientFlags } from '../client.js';
import { output } from '../output.js';

/** A namespace as JSON (bigints as strings when printed). */
const namespaceJson = (ns: NamespaceInfo) => ({ ...ns, sinceNs: ns.sinceNs.toString() });

const human = (ns: NamespaceInfo): string =>
  [
    `namespace    ${ns.namespace}`,
    `owner        ${ns.owner} (${ns.how})`,
    `delegates    ${ns.delegates.length === 0 ? '(none)' : ns.delegates.join(', ')}`
  ].join('\n');

/** `deai models namespace …`: who publishes under an org, and its delegation. */
export function registerNamespaces(models: Command): void {
  const namespace = models.command('namespace').description('who may publish model cards under an org (the part of an id before "/")');

  clientOptions(namespace.command('show <org>').description('the owner and delegates of an org')).action(
    async (org: string, flags: ClientFlags) =>
      runClient(flags.json, async () => {
        const ns = await (await connectClient(flags)).getNamespace(org);
        if (ns === undefined)
          throw new DeaiError('NotFound', `nobody holds namespace ${org} yet: its first publisher will`, {
            kind: { Namespace: null },
            id: org
          });
        output(flags.json).result(human(ns), namespaceJson(ns));
      })
  );

  clientOptions(namespace.command('assign <org> <owner>').description('give an org to a principal (registry admins)')).action(
    async (org: string, owner: string, flags: ClientFlags) =>
      runClient(flags.json, async () => {
        const ns = await (await connectClient(flags)).assignNamespace(org, owner);
        output(flags.json).result(`Assigned ${ns.namespace} to ${ns.owner}.`, namespaceJson(ns));
      })
  );

  clientOptions(
    namespace
      .command('purge <org> <publisher>')
      .description('remove the cards a former holder published under an org (registry admins; bounded calls until done)')
  ).action(async (org: string, publisher: string, flags: ClientFlags) =>
    runClient(flags.json, async () => {
      const client = await connectClient(flags);
      let removed = 0;
      let calls = 0;
      let next: string | undefined;
      do {
        const report = await client.purgeNamespaceCards(org, publisher, next === undefined ? {} : { after: next });
        removed += report.removed;
        calls++;
        next = report.next;
      } while (next !== undefined);
      output(flags.json).result(`Removed ${removed} card(s) ${publisher} published under ${org}.`, {
        namespace: org,
        publisher,
        removed,
        calls
      });
    })
  );

  clientOptions(namespace.command('delegate <org> <principal>').description('let a principal publish under your org')).action(
    async (org: string, principal: string, flags: ClientFlags) =>
      runClient(flags.json, async () => {
        const ns = await (await connectClient(flags)).delegateNamespace(org, principal);
        output(flags.json).result(`${principal} may publish under ${ns.namespace}.`, namespaceJson(ns));
      })
  );

  clientOptions(namespace.command('revoke <org> <principal>').description("take a delegate's right to publish under your org back")).action(
    async (org: string, principal: string, flags: ClientFlags) =>
      runClient(flags.json, async () => {
        const ns = await (await connectClient(flags)).revokeNamespaceDelegate(org, principal);
        output(flags.json).result(`${principal} may no longer publish under ${ns.namespace}.`, namespaceJson(ns));
      })
  );
}
