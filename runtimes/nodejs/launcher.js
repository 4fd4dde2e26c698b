// gowhisk nodejs launcher: runs one action with the action-loop protocol of
// package runtimes (runtimes/doc.go). Plain node, no dependencies.
//
//   fd 3 <- {"ok":true}                         when ready
//   stdin -> {"init":{"name","main","path","env"}}
//   fd 3 <- {"ok":true} | 502 {"error":...}    (then exit)
//   stdin -> one /run body per line
//   fd 3 <- result JSON | <status> {"error":...}
'use strict';

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n';
const RESULT_FD = 3;

function writeAll(fd, s) {
  const buf = Buffer.from(s, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

function answer(line) {
  writeAll(RESULT_FD, line + '\n');
}

function answerStatus(status, obj) {
  answer(status + ' ' + JSON.stringify(obj));
}

function writeMarkers() {
  writeAll(1, SENTINEL);
  writeAll(2, SENTINEL);
}

// Splits "file.fn" into [module, property]; "fn" into [undefined, "fn"].
function splitMain(main) {
  const m = /^([^.]+)$|^([^.]+)\.(.+)$/.exec(main);
  if (!m) return undefined;
  return [m[2], m[3] || m[1]];
}

function property(obj, dotted) {
  let v = obj;
  for (const p of dotted.split('.')) {
    if (v === undefined || v === null) return undefined;
    v = v[p];
  }
  return v;
}

function assertFunction(handler, name) {
  if (typeof handler !== 'function') {
    throw "Action entrypoint '" + name + "' is not a function.";
  }
  return handler;
}

function loadSource(file, main) {
  const code = fs.readFileSync(file, 'utf8');
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  const req = Module.createRequire(file);
  const ident = /^[A-Za-z_$][\w$]*$/.test(main);
  // As OpenWhisk's nodejs runtime: the action's top-level binding named
  // main, else module.exports[main] or exports[main].
  const tail = ident
    ? '\n;try { return typeof ' + main + " === 'undefined' ? undefined : " + main + '; } catch (e__) { if (e__ && e__.name === "ReferenceError") return undefined; throw e__; }'
    : '\n;return undefined;';
  let fn;
  try {
    fn = vm.compileFunction(code + tail, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: file });
  } catch (e) {
    if (e && typeof e.stack === 'string') {
      const i = e.stack.indexOf('\n    at ');
      if (i > 0) e.stack = e.stack.slice(0, i);
    }
    throw e;
  }
  let handler = fn.call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  if (handler === undefined) handler = property(mod.exports, main);
  return assertFunction(handler, main);
}

function loadDirectory(dir, main) {
  const parts = splitMain(main);
  if (parts === undefined) throw 'Name of main function is not valid.';
  const [index, fn] = parts;
  process.chdir(dir);
  if (index === undefined && !fs.existsSync('package.json') && !fs.existsSync('index.js')) {
    throw 'Zipped actions must contain either package.json or index.js at the root.';
  }
  const target = index !== undefined ? path.join(dir, index) : dir;
  const req = Module.createRequire(path.join(dir, 'package.json'));
  return assertFunction(property(req(target), fn), main);
}

function setEnv(env) {
  if (!env || typeof env !== 'object') return;
  for (const k of Object.keys(env)) {
    const v = env[k];
    if (v === null || v === undefined) process.env[k] = '';
    else if (typeof v === 'object') process.env[k] = JSON.stringify(v);
    else process.env[k] = String(v);
  }
}

let handler;
let activationKeys = [];

function init(msg) {
  const m = (msg && msg.init) || {};
  try {
    if (typeof m.path !== 'string' || m.path === '') throw 'Missing main/no code to execute.';
    const main = typeof m.main === 'string' && m.main !== '' ? m.main : 'main';
    setEnv(m.env);
    const st = fs.statSync(m.path);
    handler = st.isDirectory() ? loadDirectory(m.path, main) : loadSource(m.path, main);
    answer(JSON.stringify({ ok: true }));
  } catch (error) {
    const detail = error && error.stack ? String(error.stack) : String(error);
    console.error('Error during initialization:', detail);
    writeMarkers();
    answerStatus(502, { error: 'Initialization has failed due to: ' + detail });
    process.exit(0);
  }
}

// A JSON-safe copy of an error (as npm serialize-error does).
function serializeError(value, seen) {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' ? '[Function: ' + (value.name || 'anonymous') + ']' : value;
  }
  seen = seen || new Set();
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => serializeError(v, seen));
  if (typeof value.toJSON === 'function' && !(value instanceof Error)) return value.toJSON();
  const out = {};
  for (const k of Object.keys(value)) {
    if (typeof value[k] !== 'function') out[k] = serializeError(value[k], seen);
  }
  if (value instanceof Error) {
    for (const k of ['name', 'message', 'stack']) {
      if (typeof value[k] === 'string') out[k] = value[k];
    }
  }
  seen.delete(value);
  return out;
}

async function run(msg) {
  for (const k of activationKeys) delete process.env[k];
  activationKeys = [];
  for (const k of Object.keys(msg)) {
    if (k !== 'value' && typeof msg[k] === 'string') {
      const name = '__OW_' + k.toUpperCase();
      process.env[name] = msg[k];
      activationKeys.push(name);
    }
  }
  let value = msg.value;
  if (value === null || value === undefined) value = {};
  if (typeof value !== 'object') {
    const err = "Internal system error: the argument must be a dictionary but has type '" + typeof value + "'.";
    console.error('Internal system error:', err);
    writeMarkers();
    return answerStatus(403, { error: err });
  }
  let result;
  try {
    result = handler(value);
  } catch (e) {
    console.error(e);
    writeMarkers();
    return answerStatus(502, { error: 'An error has occurred: ' + e });
  }
  try {
    result = await result;
    if (result === undefined) result = {};
  } catch (e) {
    result = e ? { error: serializeError(e) } : { error: {} };
  }
  if (typeof result !== 'object') {
    console.error('Result must be of type object but has type "' + typeof result + '":', result);
    writeMarkers();
    return answerStatus(502, { error: 'The action did not return a dictionary.' });
  }
  let line;
  try {
    line = JSON.stringify(result);
  } catch (e) {
    console.error(e);
    writeMarkers();
    return answerStatus(502, { error: 'An error has occurred: ' + e });
  }
  writeMarkers();
  answer(line === undefined ? 'null' : line);
}

// Line reader: one request at a time, in order.
let pending = '';
const queue = [];
let busy = false;

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const line = queue.shift();
    if (line.trim() === '') continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      writeMarkers();
      answerStatus(400, { error: 'Error unmarshaling request: ' + e.message });
      continue;
    }
    if (handler === undefined) init(msg);
    else await run(msg === null || typeof msg !== 'object' ? {} : msg);
  }
  busy = false;
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    queue.push(pending.slice(0, i));
    pending = pending.slice(i + 1);
  }
  drain();
});
process.stdin.on('end', () => {
  const wait = () => (busy || queue.length > 0 ? setTimeout(wait, 10) : process.exit(0));
  wait();
});

answer(JSON.stringify({ ok: true }));
