import { certifiedDataSet, dataCertificate, IDL, init, isController, msgCaller, postUpgrade, query, trap, update } from 'azle';

import { assetPaths, clearAssets, putAsset, recertify, serve, type PutError } from './assets.js';

// The explorer as an asset-style canister: a controller uploads the built page (`deai explorer --from-canister`),
// and browsers load it through the HTTP gateway with certified responses (v2).

const HeaderField = IDL.Tuple(IDL.Text, IDL.Text);
const HttpRequest = IDL.Record({
  method: IDL.Text,
  url: IDL.Text,
  headers: IDL.Vec(HeaderField),
  body: IDL.Vec(IDL.Nat8),
  certificate_version: IDL.Opt(IDL.Nat16)
});
const HttpResponse = IDL.Record({ status_code: IDL.Nat16, headers: IDL.Vec(HeaderField), body: IDL.Vec(IDL.Nat8) });
const PutAssetError = IDL.Variant({
  NotController: IDL.Null,
  TooMany: IDL.Null,
  TooLarge: IDL.Null,
  InvalidPath: IDL.Null,
  InvalidContentType: IDL.Null
});
const PutAssetResult = IDL.Variant({ Ok: IDL.Null, Err: PutAssetError });
type PutAssetResult = { Ok: null } | { Err: PutError | { NotController: null } };

const notController = (): boolean => !isController(msgCaller());

export default class {
  @init([])
  init(): void {
    certifiedDataSet(recertify());
  }

  @postUpgrade([])
  postUpgrade(): void {
    certifiedDataSet(recertify());
  }

  @update([IDL.Text, IDL.Text, IDL.Vec(IDL.Nat8)], PutAssetResult)
  put_asset(path: string, contentType: string, body: Uint8Array): PutAssetResult {
    if (notController()) return { Err: { NotController: null } };
    const error = putAsset(path, contentType, body);
    if (error !== undefined) return { Err: error };
    certifiedDataSet(recertify());
    return { Ok: null };
  }

  @update([], PutAssetResult)
  clear_assets(): PutAssetResult {
    if (notController()) return { Err: { NotController: null } };
    clearAssets();
    certifiedDataSet(recertify());
    return { Ok: null };
  }

  @query([], IDL.Vec(IDL.Text))
  list_assets(): string[] {
    return assetPaths();
  }

  @query([HttpRequest], HttpResponse)
  http_request(request: { url: string }): { status_code: number; headers: [string, string][]; body: Uint8Array } {
    const certificate = dataCertificate() ?? trap('http_request needs a data certificate: call it as a query');
    const served = serve(request.url, certificate);
    return { status_code: served.status, headers: served.headers, body: served.body };
  }
}
