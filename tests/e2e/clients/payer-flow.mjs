// The receiving payer's whole flow against p2p, by two generic FHIR
// clients used as their documentation shows, unmodified:
//   fhir-kit-client  discovery (smartAuthMetadata), $member-match,
//                    $everything with its next links, $bulk-member-match,
//                    Group search and read, $davinci-data-export, status
//   @medplum/core    startClientLogin (client_secret_post, no scope),
//                    $member-match, readPatientEverything,
//                    startAsyncRequest ($bulk-member-match), download,
//                    readResource / searchResources on Group,
//                    bulkExport (Group/{id}/$export, Patient/$export)
//
// Usage: node payer-flow.mjs BASE CLIENT_ID SECRET MEMBER_MATCH.json
//            BULK_MATCH.json OUT_DIR
// Prints one JSON object (what each step saw) on stdout; writes every
// resource received to OUT_DIR/resources.ndjson (for the schema check).
// Exits 1 with the step that failed on stderr.
import { writeFileSync, readFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { MedplumClient } from '@medplum/core';
import { Client, RESPONSE_KEY } from 'fhir-kit-client';

const [base, clientId, secret, mmPath, bmmPath, outDir] = process.argv.slice(2);
const mmRequest = JSON.parse(readFileSync(mmPath, 'utf8'));
const bmmRequest = JSON.parse(readFileSync(bmmPath, 'utf8'));
const P2P_EXPORT = 'hl7.fhir.us.davinci-pdex#payertopayer';
const resourcesFile = join(outDir, 'resources.ndjson');
writeFileSync(resourcesFile, '');
const seen = { fhirkit: {}, medplum: {} };
let step = 'start';

function keep(...resources) {
  for (const r of resources) appendFileSync(resourcesFile, JSON.stringify(r) + '\n');
}

function check(ok, what) {
  if (!ok) throw new Error(`${step}: ${what}`);
}

function memberId(params) {
  const p = params.parameter.find((x) => x.name === 'MemberId');
  check(p, 'no MemberId');
  return p.valueReference.reference.replace(/^Patient\//, '');
}

function ndjson(text) {
  return text.split('\n').filter((l) => l).map((l) => JSON.parse(l));
}

// --- fhir-kit-client -------------------------------------------------------
async function fhirkit() {
  const fk = new Client({ baseUrl: `${base}/fhir` });
  const out = seen.fhirkit;

  step = 'fhirkit: smartAuthMetadata';
  const { tokenUrl } = await fk.smartAuthMetadata();
  out.tokenUrl = tokenUrl.toString();

  step = 'fhirkit: token (client_secret_basic)';
  const tr = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64'),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.rs' }),
  });
  check(tr.ok, `token status ${tr.status}`);
  fk.bearerToken = (await tr.json()).access_token;

  step = 'fhirkit: $member-match';
  const mm = await fk.operation({ resourceType: 'Patient', name: '$member-match', input: mmRequest });
  out.memberId = memberId(mm);
  keep(mm);

  step = 'fhirkit: $everything';
  let page = await fk.operation({
    resourceType: 'Patient', id: out.memberId, name: 'everything', method: 'GET',
    input: { _count: '1' },
  });
  out.everythingIds = [];
  out.everythingPages = 0;
  while (page && out.everythingPages < 100) {
    check(page.resourceType === 'Bundle' && page.type === 'searchset', 'not a searchset');
    keep(page);
    out.everythingPages++;
    for (const e of page.entry ?? []) out.everythingIds.push(`${e.resource.resourceType}/${e.resource.id}`);
    page = await fk.nextPage({ bundle: page });
  }

  step = 'fhirkit: $bulk-member-match';
  const accepted = await fk.operation({
    resourceType: 'Group', name: '$bulk-member-match', input: bmmRequest,
    options: { headers: { prefer: 'respond-async' } },
  });
  const status = accepted[RESPONSE_KEY].headers.get('content-location');
  check(accepted[RESPONSE_KEY].status === 202 && status, 'no 202 with Content-Location');
  const matchManifest = await poll(fk, status);
  out.matchOutput = matchManifest.output.map((o) => o.type).sort();

  step = 'fhirkit: Group search';
  const groups = await fk.search({ resourceType: 'Group', searchParams: { code: 'match' } });
  check(groups.type === 'searchset' && groups.entry?.length >= 1, 'no MatchedMembers group');
  keep(groups);
  const gid = groups.entry[0].resource.id;
  out.groupId = gid;

  step = 'fhirkit: Group read';
  const g = await fk.read({ resourceType: 'Group', id: gid });
  check(JSON.stringify(g) === JSON.stringify(groups.entry[0].resource), 'read differs from search');
  out.groupMembers = (g.member ?? []).map((m) => m.entity.reference);

  step = 'fhirkit: $davinci-data-export';
  const kick = await fk.operation({
    resourceType: 'Group', id: gid, name: '$davinci-data-export',
    input: { resourceType: 'Parameters', parameter: [{ name: 'exportType', valueCanonical: P2P_EXPORT }] },
    options: { headers: { prefer: 'respond-async' } },
  });
  const manifest = await poll(fk, kick[RESPONSE_KEY].headers.get('content-location'));
  out.exportTypes = manifest.output.map((o) => o.type).sort();
  out.exportCount = manifest.output.reduce((n, o) => n + o.count, 0);
}

// Polls a status URL as fhir-kit-client's request() sees it.
async function poll(fk, url) {
  for (let i = 0; i < 600; i++) {
    const r = await fk.request(url);
    const st = r[RESPONSE_KEY].status;
    if (st === 200) return r;
    check(st === 202, `status ${st}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${step}: job did not finish`);
}

// --- @medplum/core ---------------------------------------------------------
async function medplum() {
  const out = seen.medplum;
  const mp = new MedplumClient({
    baseUrl: `${base}/`, fhirUrlPath: 'fhir', tokenUrl: `${base}/auth/token`,
  });
  const poll = { pollStatusOnAccepted: true, pollStatusPeriod: 200 };

  step = 'medplum: startClientLogin';
  await mp.startClientLogin(clientId, secret);
  out.loggedIn = Boolean(mp.getAccessToken());

  step = 'medplum: $member-match';
  const mm = await mp.post(mp.fhirUrl('Patient', '$member-match'), mmRequest);
  out.memberId = memberId(mm);

  step = 'medplum: readPatientEverything';
  const ev = await mp.readPatientEverything(out.memberId);
  check(ev.type === 'searchset', 'not a searchset');
  keep(ev);
  out.everythingCount = ev.entry.length;

  step = 'medplum: startAsyncRequest $bulk-member-match';
  const m = await mp.startAsyncRequest(mp.fhirUrl('Group', '$bulk-member-match').toString(),
    { body: JSON.stringify(bmmRequest), ...poll });
  check(Array.isArray(m.output), 'no manifest');

  step = 'medplum: download Group file';
  const item = m.output.find((o) => o.type === 'Group');
  const groups = ndjson(await (await mp.download(item.url)).text());
  check(groups.length === item.count, 'count differs');
  keep(...groups);
  const matched = groups.find((x) => x.code.coding[0].code === 'match');
  out.groupId = matched.id;

  step = 'medplum: readResource Group';
  const g = await mp.readResource('Group', matched.id);
  check(JSON.stringify(g) === JSON.stringify(matched), 'read differs from the file');

  step = 'medplum: searchResources Group';
  const found = await mp.searchResources('Group', { _id: matched.id, code: 'match' });
  check(found.length === 1 && found[0].id === matched.id, 'search did not find it');

  step = 'medplum: bulkExport Group';
  const gx = await mp.bulkExport(`Group/${matched.id}`, undefined, undefined, { ...poll });
  out.groupExport = await files(mp, gx);

  step = 'medplum: bulkExport Patient';
  const px = await mp.bulkExport('Patient', 'Patient,Coverage', undefined, { ...poll });
  out.patientExport = await files(mp, px);

  step = 'medplum: $davinci-data-export';
  const dx = await mp.startAsyncRequest(mp.fhirUrl('Group', matched.id, '$davinci-data-export').toString(), {
    body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'exportType', valueCanonical: P2P_EXPORT }] }),
    ...poll,
  });
  out.dataExport = await files(mp, dx);
}

// Downloads every file of a manifest: {type: count}, resources kept.
async function files(mp, manifest) {
  check(manifest.requiresAccessToken === true && manifest.transactionTime, 'not a manifest');
  const counts = {};
  for (const f of manifest.output) {
    const rs = ndjson(await (await mp.download(f.url)).text());
    check(rs.length === f.count, `${f.type}: ${rs.length} lines, count ${f.count}`);
    check(rs.every((r) => r.resourceType === f.type), `${f.type}: another type inside`);
    keep(...rs);
    counts[f.type] = (counts[f.type] ?? 0) + rs.length;
  }
  return counts;
}

try {
  await fhirkit();
  await medplum();
  process.stdout.write(JSON.stringify(seen) + '\n');
} catch (err) {
  const detail = err?.response ? JSON.stringify(err.response).slice(0, 600) :
    err?.outcome ? JSON.stringify(err.outcome).slice(0, 600) : '';
  process.stderr.write(`${step}: ${err?.stack ?? err} ${detail}\n`);
  process.exit(1);
}
