// flows.js drives a running gowhisk server with the official OpenWhisk JS
// client (npm openwhisk) through the action, activation, trigger, rule,
// package and namespace flows, asserting what the client returns.
//
// Environment: APIHOST (http://127.0.0.1:PORT) and AUTH (uuid:key) name the
// server; NODE_PATH must reach the openwhisk module (flows_test.go sets it to
// test/integration/node_modules). Each step is printed as "step: <name>" and
// "ok: <name>"; the first failure prints "FAIL: <name>" with the error and
// exits 1.
'use strict'

const assert = require('assert')
const openwhisk = require('openwhisk')

const apihost = process.env.APIHOST
const auth = process.env.AUTH
if (!apihost || !auth) {
  console.error('FAIL: setup: APIHOST and AUTH must be set')
  process.exit(2)
}
const ow = openwhisk({ apihost, api_key: auth })

// pollWait bounds every wait for an asynchronous activation (a guard
// against hangs, not a performance assertion).
const pollWait = 60 * 1000

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// step runs one named step, printing its start and end.
async function step (name, fn) {
  console.log(`step: ${name}`)
  try {
    const v = await fn()
    console.log(`ok: ${name}`)
    return v
  } catch (err) {
    console.log(`FAIL: ${name}`)
    console.log(describe(err))
    process.exit(1)
  }
}

// describe renders an error with what the client attached to it.
function describe (err) {
  const parts = [err && err.stack ? err.stack : String(err)]
  if (err && err.statusCode !== undefined) parts.push(`statusCode: ${err.statusCode}`)
  if (err && err.error !== undefined) parts.push(`error body: ${JSON.stringify(err.error)}`)
  return parts.join('\n')
}

// rejects asserts that p rejects with the client's OpenWhiskError carrying
// HTTP status code, and returns the error.
async function rejects (p, code) {
  let err
  try {
    const v = await p
    assert.fail(`expected HTTP ${code}, got success: ${JSON.stringify(v)}`)
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e
    err = e
  }
  assert.strictEqual(err.name, 'OpenWhiskError', `error is not the client's OpenWhiskError: ${describe(err)}`)
  assert.strictEqual(err.statusCode, code, `statusCode: ${describe(err)}`)
  assert.ok(err.message.includes(`Returned HTTP ${code}`), `message ${JSON.stringify(err.message)}`)
  return err
}

// poll calls fn until it returns a value other than undefined; a 404 from
// the server (the record is not stored yet) counts as "not yet".
async function poll (what, fn) {
  const deadline = Date.now() + pollWait
  let last
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) {
      if (err.statusCode !== 404) throw err
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not there within ${pollWait} ms` + (last ? ` (last: ${last.message})` : ''))
    }
    await sleep(100)
  }
}

const names = list => list.map(e => e.name)

// assertNoContent checks what the client returns for a 204 answer (a fire
// without active rules): it does not single 204 out, and needle hands back
// the empty body as an empty Buffer, where a 202 gives {activationId}.
function assertNoContent (v, what) {
  assert.ok(Buffer.isBuffer(v) && v.length === 0, `${what} returned ${JSON.stringify(v)}, want the client's empty body (HTTP 204)`)
}

const helloV1 = 'function main(params) { console.log("hello v1 " + params.name); return {greeting: "hello " + params.name} }'
const helloV2 = 'function main(params) { return {greeting: "hi " + params.name, v: 2} }'
const echoCode = 'function main(params) { return {name: params.name, source: params.source, fromTrigger: params.fromTrigger, event: params.event} }'
const failCode = 'function main(params) { return {error: "failed on purpose"} }'

async function main () {
  await step('namespaces.list includes guest', async () => {
    const ns = await ow.namespaces.list()
    assert.ok(Array.isArray(ns), JSON.stringify(ns))
    assert.ok(ns.includes('guest'), JSON.stringify(ns))
  })

  // ---- actions ----------------------------------------------------------
  await step('actions.create jsHello', async () => {
    const a = await ow.actions.create({ name: 'jsHello', action: helloV1, kind: 'nodejs:20' })
    assert.strictEqual(a.name, 'jsHello')
    assert.strictEqual(a.namespace, 'guest')
    assert.strictEqual(a.version, '0.0.1')
    assert.strictEqual(a.exec.kind, 'nodejs:20')
  })

  await step('actions.create of an existing action without overwrite is 409', async () => {
    const err = await rejects(ow.actions.create({ name: 'jsHello', action: helloV2, kind: 'nodejs:20' }), 409)
    assert.strictEqual(err.error.error, 'resource already exists')
  })

  await step('actions.create with the client default kind (nodejs:default)', async () => {
    const a = await ow.actions.create({ name: 'jsDefaultKind', action: 'function main() { return {ok: true} }' })
    assert.match(a.exec.kind, /^nodejs:/)
    const r = await ow.actions.invoke({ name: 'jsDefaultKind', blocking: true, result: true })
    assert.deepStrictEqual(r, { ok: true })
  })

  await step('actions.get jsHello', async () => {
    const a = await ow.actions.get({ name: 'jsHello' })
    assert.strictEqual(a.name, 'jsHello')
    assert.strictEqual(a.exec.code, helloV1)
    const noCode = await ow.actions.get({ name: 'jsHello', code: false })
    assert.strictEqual(noCode.exec.code, undefined, JSON.stringify(noCode.exec))
  })

  await step('actions.list includes jsHello and jsDefaultKind', async () => {
    const list = await ow.actions.list()
    assert.ok(names(list).includes('jsHello'), JSON.stringify(names(list)))
    assert.ok(names(list).includes('jsDefaultKind'), JSON.stringify(names(list)))
    const count = await ow.actions.list({ count: true })
    assert.deepStrictEqual(count, { actions: list.length })
  })

  await step('actions.invoke blocking with result', async () => {
    const r = await ow.actions.invoke({ name: 'jsHello', params: { name: 'js' }, blocking: true, result: true })
    assert.deepStrictEqual(r, { greeting: 'hello js' })
  })

  await step('actions.invoke blocking gives the activation record', async () => {
    const act = await ow.actions.invoke({ name: 'jsHello', params: { name: 'rec' }, blocking: true })
    assert.match(act.activationId, /^[0-9a-f]{32}$/)
    assert.strictEqual(act.name, 'jsHello')
    assert.strictEqual(act.namespace, 'guest')
    assert.strictEqual(act.response.success, true)
    assert.strictEqual(act.response.status, 'success')
    assert.deepStrictEqual(act.response.result, { greeting: 'hello rec' })
  })

  await step('actions.update runs the new code', async () => {
    const a = await ow.actions.update({ name: 'jsHello', action: helloV2, kind: 'nodejs:20' })
    assert.strictEqual(a.version, '0.0.2')
    const got = await ow.actions.get('jsHello')
    assert.strictEqual(got.exec.code, helloV2)
    const r = await ow.actions.invoke({ name: 'jsHello', params: { name: 'js' }, blocking: true, result: true })
    assert.deepStrictEqual(r, { greeting: 'hi js', v: 2 })
  })

  await step('actions.invoke blocking of a failing action rejects with 502', async () => {
    await ow.actions.create({ name: 'jsFail', action: failCode, kind: 'nodejs:20' })
    const err = await rejects(ow.actions.invoke({ name: 'jsFail', blocking: true }), 502)
    assert.strictEqual(err.error.response.success, false, JSON.stringify(err.error))
    assert.strictEqual(err.error.response.status, 'application error')
    assert.deepStrictEqual(err.error.response.result, { error: 'failed on purpose' })
    assert.ok(err.message.includes('failed on purpose'), err.message)
  })

  // ---- activations --------------------------------------------------------
  await step('non-blocking invoke, then activations.get/result/logs/list', async () => {
    await ow.actions.update({ name: 'jsHello', action: helloV1, kind: 'nodejs:20' })
    const { activationId } = await ow.actions.invoke({ name: 'jsHello', params: { name: 'async' } })
    assert.match(activationId, /^[0-9a-f]{32}$/)

    const act = await poll('activation ' + activationId, () => ow.activations.get({ name: activationId }))
    assert.strictEqual(act.activationId, activationId)
    assert.strictEqual(act.name, 'jsHello')
    assert.deepStrictEqual(act.response.result, { greeting: 'hello async' })

    const res = await ow.activations.result({ name: activationId })
    assert.strictEqual(res.success, true, JSON.stringify(res))
    assert.strictEqual(res.status, 'success', JSON.stringify(res))
    assert.deepStrictEqual(res.result, { greeting: 'hello async' })

    const logs = await ow.activations.logs(activationId)
    assert.ok(Array.isArray(logs.logs), JSON.stringify(logs))
    assert.ok(logs.logs.some(l => l.includes('hello v1 async')), JSON.stringify(logs.logs))

    const list = await ow.activations.list({ name: 'jsHello', limit: 50 })
    assert.ok(list.some(a => a.activationId === activationId), JSON.stringify(list))
    for (const a of list) assert.strictEqual(a.name, 'jsHello')
    const count = await ow.activations.list({ name: 'jsHello', count: true })
    assert.deepStrictEqual(count, { activations: list.length })
    const docs = await ow.activations.list({ name: 'jsHello', docs: true, limit: 50 })
    const full = docs.find(a => a.activationId === activationId)
    assert.ok(full, JSON.stringify(docs))
    assert.deepStrictEqual(full.response.result, { greeting: 'hello async' })
  })

  await step('activations.get of an unknown id is 404', async () => {
    await rejects(ow.activations.get({ name: '0123456789abcdef0123456789abcdef' }), 404)
  })

  // ---- triggers and rules -------------------------------------------------
  await step('triggers.create/get/list jsEvents', async () => {
    await ow.actions.create({ name: 'jsEcho', action: echoCode, kind: 'nodejs:20' })
    const t = await ow.triggers.create({
      name: 'jsEvents',
      trigger: { parameters: [{ key: 'source', value: 'trigger' }, { key: 'fromTrigger', value: true }] }
    })
    assert.strictEqual(t.name, 'jsEvents')
    assert.strictEqual(t.namespace, 'guest')
    await rejects(ow.triggers.create({ name: 'jsEvents' }), 409)
    const got = await ow.triggers.get('jsEvents')
    assert.deepStrictEqual(got.parameters, [{ key: 'source', value: 'trigger' }, { key: 'fromTrigger', value: true }])
    const list = await ow.triggers.list()
    assert.ok(names(list).includes('jsEvents'), JSON.stringify(names(list)))
  })

  await step('triggers.invoke with no rule answers 204 (no activation)', async () => {
    assertNoContent(await ow.triggers.invoke({ name: 'jsEvents', params: { event: 'norule' } }), 'fire without rules')
  })

  await step('rules.create/get/list jsRule (jsEvents -> jsEcho)', async () => {
    const r = await ow.rules.create({ name: 'jsRule', trigger: 'jsEvents', action: 'jsEcho' })
    assert.strictEqual(r.name, 'jsRule')
    assert.strictEqual(r.status, 'active')
    assert.strictEqual(r.trigger.name, 'jsEvents')
    assert.strictEqual(r.action.name, 'jsEcho')
    await rejects(ow.rules.create({ name: 'jsRule', trigger: 'jsEvents', action: 'jsEcho' }), 409)
    const got = await ow.rules.get('jsRule')
    assert.strictEqual(got.status, 'active')
    const list = await ow.rules.list()
    assert.ok(names(list).includes('jsRule'), JSON.stringify(names(list)))
    const t = await ow.triggers.get('jsEvents')
    assert.ok(t.rules && t.rules['guest/jsRule'], JSON.stringify(t.rules))
    assert.strictEqual(t.rules['guest/jsRule'].status, 'active')
  })

  // fireAndFollow fires jsEvents with payload and returns the jsEcho
  // activation its rule started, found through the trigger activation's logs.
  async function fireAndFollow (payload) {
    const fired = await ow.triggers.invoke({ name: 'jsEvents', params: payload })
    assert.match(fired && fired.activationId, /^[0-9a-f]{32}$/, `fire returned ${JSON.stringify(fired)}`)
    const tact = await poll('trigger activation ' + fired.activationId, () => ow.activations.get(fired.activationId))
    assert.strictEqual(tact.name, 'jsEvents')
    assert.ok(tact.response.success, JSON.stringify(tact.response))
    const entries = tact.logs.map(l => JSON.parse(l))
    const entry = entries.find(e => e.rule === 'guest/jsRule')
    assert.ok(entry, `trigger activation logs ${JSON.stringify(tact.logs)}`)
    assert.strictEqual(entry.success, true, JSON.stringify(entry))
    assert.strictEqual(entry.action, 'guest/jsEcho')
    assert.match(entry.activationId, /^[0-9a-f]{32}$/)
    return poll('rule activation ' + entry.activationId, () => ow.activations.get(entry.activationId))
  }

  await step('triggers.invoke with an active rule runs the action with the payload', async () => {
    const act = await fireAndFollow({ name: 'fired', event: 'one' })
    assert.strictEqual(act.name, 'jsEcho')
    assert.deepStrictEqual(act.response.result, { name: 'fired', source: 'trigger', fromTrigger: true, event: 'one' })
    // the rule's action activation is also listed under the action's name
    const found = await poll('jsEcho activation in list', async () => {
      const list = await ow.activations.list({ name: 'jsEcho', limit: 50 })
      return list.some(a => a.activationId === act.activationId) ? true : undefined
    })
    assert.ok(found)
  })

  await step('trigger payload overrides trigger parameters', async () => {
    const act = await fireAndFollow({ source: 'payload', event: 'two' })
    assert.deepStrictEqual(act.response.result, { source: 'payload', fromTrigger: true, event: 'two' })
  })

  await step('rules.disable, fire answers without invoking', async () => {
    // OpenWhisk answers a status change with complete(OK): 200 and the
    // text/plain body "OK", which the client returns as is.
    const r = await ow.rules.disable({ name: 'jsRule' })
    assert.strictEqual(r, 'OK')
    assert.strictEqual((await ow.rules.get('jsRule')).status, 'inactive')
    // disabling again is a no-op
    await ow.rules.disable({ name: 'jsRule' })
    assert.strictEqual((await ow.rules.get('jsRule')).status, 'inactive')
    assertNoContent(await ow.triggers.invoke({ name: 'jsEvents', params: { event: 'while-disabled' } }), 'fire with the rule disabled')
  })

  await step('rules.enable, fire invokes again; nothing ran for the disabled fire', async () => {
    assert.strictEqual(await ow.rules.enable({ name: 'jsRule' }), 'OK')
    assert.strictEqual((await ow.rules.get('jsRule')).status, 'active')
    const act = await fireAndFollow({ event: 'three' })
    assert.deepStrictEqual(act.response.result, { source: 'trigger', fromTrigger: true, event: 'three' })
    const docs = await ow.activations.list({ name: 'jsEcho', docs: true, limit: 200 })
    const events = docs.map(a => a.response && a.response.result && a.response.result.event)
    assert.ok(events.includes('three'), JSON.stringify(events))
    assert.ok(!events.includes('while-disabled'), `an activation ran for the fire while the rule was disabled: ${JSON.stringify(events)}`)
    assert.ok(!events.includes('norule'), `an activation ran for the fire without rules: ${JSON.stringify(events)}`)
  })

  await step('namespaces.get lists every collection', async () => {
    const ns = await ow.namespaces.get()
    assert.ok(names(ns.actions).includes('jsEcho'), JSON.stringify(ns.actions))
    assert.ok(names(ns.triggers).includes('jsEvents'), JSON.stringify(ns.triggers))
    assert.ok(names(ns.rules).includes('jsRule'), JSON.stringify(ns.rules))
    assert.ok(Array.isArray(ns.packages), JSON.stringify(ns.packages))
  })

  await step('actions.list pages with limit and skip', async () => {
    const all = await ow.actions.list({ limit: 200 })
    assert.ok(all.length >= 3, JSON.stringify(names(all)))
    const first = await ow.actions.list({ limit: 1 })
    const second = await ow.actions.list({ limit: 1, skip: 1 })
    assert.deepStrictEqual(names(first), names(all).slice(0, 1))
    assert.deepStrictEqual(names(second), names(all).slice(1, 2))
    await rejects(ow.actions.list({ limit: 201 }), 400)
  })

  // ---- packages -----------------------------------------------------------
  await step('packages.create/get/list, an action in the package sees its parameters', async () => {
    const p = await ow.packages.create({ name: 'jsPkg', package: { parameters: [{ key: 'source', value: 'package' }] } })
    assert.strictEqual(p.name, 'jsPkg')
    await rejects(ow.packages.create({ name: 'jsPkg' }), 409)
    const got = await ow.packages.get('jsPkg')
    assert.deepStrictEqual(got.parameters, [{ key: 'source', value: 'package' }])
    const list = await ow.packages.list()
    assert.ok(names(list).includes('jsPkg'), JSON.stringify(names(list)))
    await ow.actions.create({ name: 'jsPkg/echo', action: echoCode, kind: 'nodejs:20' })
    const withAction = await ow.packages.get('jsPkg')
    assert.ok(names(withAction.actions || []).includes('echo'), JSON.stringify(withAction.actions))
    const r = await ow.actions.invoke({ name: 'jsPkg/echo', params: { name: 'pkg' }, blocking: true, result: true })
    assert.deepStrictEqual(r, { name: 'pkg', source: 'package' })
  })

  await step('packages.delete of a non-empty package is 409; delete contents then package', async () => {
    await rejects(ow.packages.delete('jsPkg'), 409)
    await ow.actions.delete('jsPkg/echo')
    const p = await ow.packages.delete('jsPkg')
    assert.strictEqual(p.name, 'jsPkg')
    await rejects(ow.packages.get('jsPkg'), 404)
  })

  // ---- errors and deletes ---------------------------------------------------
  await step('get of missing entities is 404', async () => {
    const err = await rejects(ow.actions.get('jsNoSuchAction'), 404)
    assert.strictEqual(err.error.error, 'The requested resource does not exist.')
    await rejects(ow.triggers.get('jsNoSuchTrigger'), 404)
    await rejects(ow.rules.get('jsNoSuchRule'), 404)
    await rejects(ow.actions.invoke({ name: 'jsNoSuchAction', blocking: true }), 404)
    await rejects(ow.triggers.invoke({ name: 'jsNoSuchTrigger' }), 404)
  })

  await step('rules.delete, triggers.delete, actions.delete', async () => {
    const r = await ow.rules.delete('jsRule')
    assert.strictEqual(r.name, 'jsRule')
    assert.strictEqual(r.status, 'inactive')
    await rejects(ow.rules.get('jsRule'), 404)
    const t = await ow.triggers.delete('jsEvents')
    assert.strictEqual(t.name, 'jsEvents')
    await rejects(ow.triggers.get('jsEvents'), 404)
    for (const name of ['jsHello', 'jsEcho', 'jsFail', 'jsDefaultKind']) {
      const a = await ow.actions.delete(name)
      assert.strictEqual(a.name, name)
      await rejects(ow.actions.get(name), 404)
    }
    await rejects(ow.actions.delete('jsHello'), 404)
    const left = await ow.actions.list()
    assert.deepStrictEqual(names(left).filter(n => n.startsWith('js')), [])
    assert.deepStrictEqual(names(await ow.rules.list()).filter(n => n.startsWith('js')), [])
    assert.deepStrictEqual(names(await ow.triggers.list()).filter(n => n.startsWith('js')), [])
  })

  console.log('PASS: all flows')
}

main().catch(err => {
  console.log('FAIL: unexpected')
  console.log(describe(err))
  process.exit(1)
})
