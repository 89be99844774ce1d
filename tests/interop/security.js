// SPDX-License-Identifier: Apache-2.0
// security.js — the controller's refusals seen from an independent gRPC implementation
// (@grpc/grpc-js, pure JavaScript: none of gRPC's C core), so the guarantees do not rest on
// our own client. Run by tests/interop/run.sh against a controller made by the lab:
//
//   node security.js TARGET PKI_DIR FOREIGN_DIR EXPIRED_CRT EXPIRED_KEY
//
// PKI_DIR holds the lab's deploy/pki.sh files (ca.crt, agent-gw1.*, user-lab-*.*),
// FOREIGN_DIR a CA of its own with user-mallory.* (O=sluice:admin). Prints one line per
// check and "N passed, M failed"; exits 1 when a check failed.
'use strict';

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [target, pki, foreign, expiredCrt, expiredKey] = process.argv.slice(2);
if (!expiredKey) {
	console.error('usage: node security.js TARGET PKI_DIR FOREIGN_DIR EXPIRED_CRT EXPIRED_KEY');
	process.exit(2);
}
const protoDir = path.join(__dirname, '..', '..', 'proto');
const def = loader.loadSync(['sluice/v1/control.proto', 'sluice/v1/agent.proto'], {
	includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const v1 = grpc.loadPackageDefinition(def).sluice.v1;
const ca = fs.readFileSync(path.join(pki, 'ca.crt'));
const CALL_MS = 5000;

// Credentials from a certificate and key file, or none (null), or plaintext ('plain').
function creds(crt, key) {
	if (crt === 'plain')
		return grpc.credentials.createInsecure();
	if (!crt)
		return grpc.credentials.createSsl(ca);
	return grpc.credentials.createSsl(ca, fs.readFileSync(key), fs.readFileSync(crt));
}

// A client of its own connection (no subchannel shared between identities).
function client(Service, crt, key) {
	return new Service(target, creds(crt, key), { 'grpc.use_local_subchannel_pool': 1 });
}

const as = (name) => [path.join(pki, `${name}.crt`), path.join(pki, `${name}.key`)];

// A unary call as a promise of { code, details, resp }.
function unary(c, method, req) {
	return new Promise((resolve) => {
		c[method](req, { deadline: Date.now() + CALL_MS }, (err, resp) => {
			resolve(err ? { code: err.code, details: err.details || '' } : { code: grpc.status.OK, resp });
			c.close();
		});
	});
}

// A method the proto does not have, sent as raw bytes.
function raw(c, methodPath) {
	return new Promise((resolve) => {
		c.makeUnaryRequest(methodPath, (b) => b, (b) => b, Buffer.alloc(0), { deadline: Date.now() + CALL_MS },
			(err) => {
				resolve({ code: err ? err.code : grpc.status.OK, details: err ? err.details || '' : '' });
				c.close();
			});
	});
}

// Opens AgentService.Connect, says Hello as node, and reports how the stream ended
// (OK: still open after a second).
function hello(c, node) {
	return new Promise((resolve) => {
		const call = c.Connect();
		const timer = setTimeout(() => { call.cancel(); c.close(); resolve({ code: grpc.status.OK }); }, 1000);
		call.on('data', () => {});
		call.on('error', (err) => {
			clearTimeout(timer);
			c.close();
			resolve({ code: err.code, details: err.details || '' });
		});
		call.write({ hello: { node_id: node, agent_version: 'interop' } });
	});
}

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

async function main() {
	let r;

	r = await unary(client(v1.ControlService, null), 'ListAgents', {});
	check('no client certificate: UNAVAILABLE', r.code === S.UNAVAILABLE, r);
	r = await unary(client(v1.ControlService, path.join(foreign, 'user-mallory.crt'),
		path.join(foreign, 'user-mallory.key')), 'ListAgents', {});
	check('admin certificate from another CA: UNAVAILABLE', r.code === S.UNAVAILABLE, r);
	r = await unary(client(v1.ControlService, expiredCrt, expiredKey), 'ListAgents', {});
	check('expired admin certificate from our CA: UNAVAILABLE', r.code === S.UNAVAILABLE, r);
	r = await unary(client(v1.ControlService, 'plain'), 'ListAgents', {});
	check('plaintext to the TLS port: UNAVAILABLE', r.code === S.UNAVAILABLE, r);

	r = await unary(client(v1.ControlService, ...as('agent-gw1')), 'ListAgents', {});
	check('agent certificate on ControlService: PERMISSION_DENIED', r.code === S.PERMISSION_DENIED, r);
	r = await hello(client(v1.AgentService, ...as('agent-gw1')), 'gw2');
	check("gw1's certificate saying Hello as gw2: PERMISSION_DENIED",
		r.code === S.PERMISSION_DENIED && r.details.includes("may not connect as node 'gw2'"), r);
	r = await hello(client(v1.AgentService, ...as('user-lab-admin')), 'lab-admin');
	check('an admin certificate on the agent stream: PERMISSION_DENIED', r.code === S.PERMISSION_DENIED, r);

	r = await unary(client(v1.ControlService, ...as('user-lab-viewer')), 'ListAgents', {});
	check('viewer lists agents', r.code === S.OK && Array.isArray(r.resp.agents), r);
	r = await unary(client(v1.ControlService, ...as('user-lab-viewer')), 'ApplyPolicy',
		{ policy: { rules: [] }, message: 'interop viewer' });
	check('viewer applies: PERMISSION_DENIED', r.code === S.PERMISSION_DENIED && r.details.includes('may only read'), r);
	r = await unary(client(v1.ControlService, ...as('user-lab-operator')), 'RemoveAgent', { node_id: 'gw1' });
	check('operator removes an agent: PERMISSION_DENIED', r.code === S.PERMISSION_DENIED, r);
	r = await raw(client(v1.ControlService, ...as('user-lab-admin')), '/sluice.v1.ControlService/DropEverything');
	check('a method nobody is granted, as admin: PERMISSION_DENIED', r.code === S.PERMISSION_DENIED, r);

	r = await unary(client(v1.ControlService, ...as('user-lab-operator')), 'ListAudit',
		{ since_unix: String(Math.floor(Date.now() / 1000) - 120) });
	const rows = r.code === S.OK ? r.resp.entries : [];
	const denied = (who, obj) => rows.some((e) => e.action === 'denied' && e.who === who && e.object.includes(obj));
	check('audit: the viewer\'s refused apply', denied('lab-viewer', 'ControlService/ApplyPolicy'), r.code);
	check('audit: gw1 claiming gw2', denied('gw1', "agent stream as node 'gw2'"), r.code);
	check('audit: the unknown method', denied('lab-admin', 'ControlService/DropEverything'), r.code);
	check('audit: nothing from the foreign or expired certificates',
		r.code === S.OK && !rows.some((e) => e.who === 'mallory' || e.who === 'former-admin'), r.code);

	console.log(`${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
