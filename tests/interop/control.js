// SPDX-License-Identifier: Apache-2.0
// control.js — the control API driven from @grpc/grpc-js with nothing but the project's
// .proto files (loaded at run time by @grpc/proto-loader) and the lab's mTLS
// certificates: the walk an operator's own tooling in another language would take.
// Run by tests/interop/run.sh against a lab controller with one agent (gw1) connected:
//
//   node control.js TARGET PKI_DIR
//
// It watches alerts (a bidi stream: one request, then the server streams), lists the
// agents, applies a one-rule policy, follows the rollout that apply started through
// GetRollout and ListRollouts until it succeeds, and sees gw1 run the new revision.
// Prints one line per check and "N passed, M failed"; exits 1 when a check failed.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, pki] = process.argv.slice(2);
if (!pki) {
	console.error('usage: node control.js TARGET PKI_DIR');
	process.exit(2);
}
const protoDir = path.join(__dirname, '..', '..', 'proto');
const def = loader.loadSync(['sluice/v1/control.proto'], {
	includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const v1 = grpc.loadPackageDefinition(def).sluice.v1;
const file = (name) => fs.readFileSync(path.join(pki, name));
const creds = grpc.credentials.createSsl(file('ca.crt'), file('user-lab-admin.key'), file('user-lab-admin.crt'));
const control = new v1.ControlService(target, creds);
const CALL_MS = 5000;
const WATCH_MS = 3000;
const ROLLOUT_MS = 20000;

// A unary call as a promise of { code, details, resp }.
function unary(method, req) {
	return new Promise((resolve) => {
		control[method](req, { deadline: Date.now() + CALL_MS }, (err, resp) => {
			resolve(err ? { code: err.code, details: err.details || '' } : { code: grpc.status.OK, resp });
		});
	});
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let passed = 0;
let failed = 0;
function check(what, ok, got) {
	if (ok) {
		console.log(`ok   - ${what}`);
		passed++;
	} else {
		console.log(`FAIL - ${what} (got ${JSON.stringify(got)})`);
		failed++;
	}
}
const S = grpc.status;

// Opens WatchAlerts with the one request it takes (current alerts first); resolves to
// what arrived and how the stream ended once stop() is called.
function watchAlerts() {
	const seen = { alerts: [], code: null, details: '' };
	const call = control.WatchAlerts();
	const ended = new Promise((resolve) => {
		call.on('data', (a) => seen.alerts.push(a));
		call.on('error', (err) => { seen.code = err.code; seen.details = err.details || ''; resolve(seen); });
		call.on('end', () => { if (seen.code === null) seen.code = S.OK; resolve(seen); });
	});
	call.write({ filter: { include_acked: true }, current: true });
	return {
		open: () => seen.code === null,
		stop: () => { call.cancel(); return ended; },
	};
}

async function main() {
	let r;
	const started = Math.floor(Date.now() / 1000);
	const watch = watchAlerts();

	r = await unary('ListAgents', {});
	const gw1 = r.code === S.OK ? r.resp.agents.find((a) => a.node_id === 'gw1') : null;
	check('ListAgents: gw1 is there, connected and synced', gw1 && gw1.state === 'AGENT_STATE_SYNCED', r);

	const policy = {
		rules: [{
			name: 'interop-block-telnet', priority: 10, action: 'ACTION_DROP',
			match: { proto: 6, dst_ports: [{ lo: 23, hi: 23 }] },
		}],
	};
	r = await unary('ApplyPolicy', { policy, message: 'from @grpc/grpc-js' });
	const applied = r.code === S.OK ? r.resp : {};
	check('ApplyPolicy: a new revision and the rollout it started',
		r.code === S.OK && Number(applied.revision) > 0 && Number(applied.rollout_id) > 0, r);

	// The rollout's status, as a dashboard would poll it.
	let rollout = null;
	for (const until = Date.now() + ROLLOUT_MS; Date.now() < until;) {
		r = await unary('GetRollout', { id: applied.rollout_id || '0' });
		rollout = r.code === S.OK ? r.resp.rollout : null;
		if (!rollout || rollout.state !== 'ROLLOUT_STATE_RUNNING')
			break;
		await sleep(200);
	}
	check('GetRollout: the rollout of that revision succeeded with gw1 acked',
		rollout && rollout.revision === applied.revision && rollout.state === 'ROLLOUT_STATE_SUCCEEDED' &&
		rollout.agents.some((a) => a.node_id === 'gw1' && a.state === 'ROLLOUT_AGENT_ACKED'), rollout);
	r = await unary('ListRollouts', { limit: 5 });
	check('ListRollouts: newest first, it is the one apply started',
		r.code === S.OK && r.resp.rollouts.length > 0 && r.resp.rollouts[0].id === applied.rollout_id &&
		r.resp.rollouts[0].state === 'ROLLOUT_STATE_SUCCEEDED', r);
	r = await unary('GetAgent', { node_id: 'gw1' });
	check('GetAgent: gw1 runs the applied revision',
		r.code === S.OK && r.resp.agent.applied_revision === applied.revision &&
		r.resp.agent.state === 'AGENT_STATE_SYNCED', r);

	// Two operators apply over that revision: the first is stored, the second (now on a
	// stale base) is refused with ABORTED and nothing of it is stored.
	const over = (name) => ({ rules: [{ ...policy.rules[0], name }] });
	r = await unary('ApplyPolicy', { policy: over('interop-first'), base_revision: applied.revision, no_rollout: true });
	const first = r.code === S.OK ? r.resp : {};
	check('ApplyPolicy with base_revision = the newest: stored',
		r.code === S.OK && Number(first.revision) === Number(applied.revision) + 1, r);
	r = await unary('ApplyPolicy', { policy: over('interop-second'), base_revision: applied.revision, no_rollout: true });
	check('ApplyPolicy on a stale base_revision: ABORTED, saying to diff again',
		r.code === S.ABORTED && r.details.includes('changed since revision') && r.details.includes('sluicectl diff'), r);
	r = await unary('ListRevisions', { limit: 1 });
	check('ListRevisions: the refused apply stored nothing',
		r.code === S.OK && r.resp.revisions[0].revision === first.revision, r);

	// The watch stayed open the whole time; what it streamed matches ListAlerts.
	const waited = Date.now() - started * 1000;
	if (waited < WATCH_MS)
		await sleep(WATCH_MS - waited);
	const stillOpen = watch.open();
	const seen = await watch.stop();
	check(`WatchAlerts: open for ${WATCH_MS / 1000} s until the client cancelled it`,
		stillOpen && seen.code === S.CANCELLED, seen);
	r = await unary('ListAlerts', { include_acked: true });
	const ids = (list) => [...new Set(list.map((a) => String(a.id)))].sort().join(',');
	check('WatchAlerts: streamed the same alerts ListAlerts has',
		r.code === S.OK && ids(r.resp.alerts) === ids(seen.alerts), { list: r, watched: seen.alerts.length });

	control.close();
	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
