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
const SENTINEL_BYTES = Buffer.from(SENTINEL);
const RESULT_FD = 3;

// The streams' own write methods, taken before any action code can patch
// them: the sentinels must go through the same queue as console output.
const stdoutWrite = process.stdout.write.bind(process.stdout);
const stderrWrite = process.stderr.write.bind(process.stderr);

// process.env keeps the __OW_* variables in an overlay instead of the C
// environment. Every other variable is the real one. Assigning process.env
// calls setenv(3), and glibc keeps every value setenv was ever given: a
// warm container given a new activation id, transaction id and deadline
// per activation would grow by ~60 bytes per activation until it hits its
// memory limit. The overlay behaves as process.env does (values become
// strings; child_process passes it to children) but frees what it drops.
const owEnv = new Map();
const isOW = (k) => typeof k === 'string' && k.startsWith('__OW_');
process.env = new Proxy(process.env, {
  get: (t, k) => (isOW(k) && owEnv.has(k) ? owEnv.get(k) : Reflect.get(t, k)),
  set(t, k, v) {
    if (!isOW(k)) return Reflect.set(t, k, v);
    owEnv.set(k, String(v));
    return true;
  },
  has: (t, k) => (isOW(k) && owEnv.has(k)) || Reflect.has(t, k),
  deleteProperty(t, k) {
    if (isOW(k)) owEnv.delete(k);
    return Reflect.deleteProperty(t, k);
  },
  ownKeys(t) {
    const keys = Reflect.ownKeys(t);
    for (const k of owEnv.keys()) if (!keys.includes(k)) keys.push(k);
    return keys;
  },
  getOwnPropertyDescriptor(t, k) {
    if (isOW(k) && owEnv.has(k)) return { value: owEnv.get(k), writable: true, enumerable: true, configurable: true };
    return Reflect.getOwnPropertyDescriptor(t, k);
  },
  defineProperty(t, k, d) {
    if (!isOW(k)) return Reflect.defineProperty(t, k, d);
    owEnv.set(k, String(d.value));
    return true;
  },
});

function writeAll(fd, s) {
  const buf = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
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

function statusLine(status, obj) {
  return status + ' ' + JSON.stringify(obj);
}

// String(v) that never throws (an object without toString).
function str(v) {
  try {
    return String(v);
  } catch (e) {
    return Object.prototype.toString.call(v);
  }
}

// Writes the sentinel on stdout and on stderr behind everything the action
// already wrote there, then calls done once both streams flushed them.
// process.stdout and process.stderr are asynchronous on a pipe that is
// full (a slow reader): a direct fs.writeSync would overtake queued
// console output, and the invoker would cut the activation's logs short.
function writeMarkers(done) {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) {
    // Nothing is queued in the streams (the usual case: node writes to a
    // pipe synchronously on Linux), so writing the sentinels directly keeps
    // them behind the action's output, without the streams' machinery.
    for (const fd of [1, 2]) {
      try {
        writeAll(fd, SENTINEL_BYTES);
      } catch (e) {
        // a closed stream: nothing more will come out of it
      }
    }
    done();
    return;
  }
  let left = 2;
  const one = () => {
    if (--left === 0) done();
  };
  for (const write of [stdoutWrite, stderrWrite]) {
    let called = false;
    const cb = () => {
      if (!called) {
        called = true;
        one();
      }
    };
    try {
      write(SENTINEL, cb);
    } catch (e) {
      cb(); // a destroyed stream: nothing more will come out of it
    }
  }
}

// Writes the sentinels, then answers line on fd 3 and calls done (at once
// when the streams had nothing queued).
function markAndAnswer(line, done) {
  writeMarkers(() => {
    answer(line);
    done();
  });
}

// markAndAnswer as a promise.
function markAndAnswered(line) {
  return new Promise((resolve) => markAndAnswer(line, resolve));
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

// The file name the action's source code is compiled under: its name, so
// that stacks and syntax errors point into the action, not at a host path.
function displayName(name) {
  return typeof name === 'string' && /^[\w.@+-]+$/.test(name) ? name : 'action';
}

function loadSource(file, main, name) {
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
  const params = ['exports', 'require', 'module', '__filename', '__dirname'];
  const options = { filename: displayName(name) };
  let fn;
  try {
    fn = vm.compileFunction(code + tail, params, options);
  } catch (e) {
    // Report the error of the action's code alone (not one the tail above
    // turned into an unexpected token of the launcher's).
    vm.compileFunction(code, params, options);
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

// The part of a source line around column col (1-based) with its caret,
// at most 160 characters wide.
function excerpt(src, col) {
  let start = 0;
  if (src.length > 160) start = Math.max(0, Math.min(col - 80, src.length - 160));
  const line = src.slice(start, start + 160);
  return '\n' + line + '\n' + ' '.repeat(Math.max(col - 1 - start, 0)) + '^';
}

// describeError describes an error of the action's code for an init
// failure: its stack without the launcher's frames (nor node's module
// loading) and with the action's directory removed from paths; a syntax
// error as "SyntaxError: <message>", its position in the action's code and
// the source line.
function describeError(error, dir) {
  if (error === null || typeof error !== 'object' || typeof error.stack !== 'string') {
    return str(error);
  }
  let stack = error.stack;
  let where = '';
  const name = typeof error.name === 'string' ? error.name : '';
  const head = name !== '' && !stack.startsWith(name) ? stack.indexOf('\n\n' + name) : -1;
  if (head > 0) {
    // A compile error as node decorates it:
    // "<file>:<line>\n<source line>\n<caret line>\n\n<name>: <message>\n    at ..."
    const [loc, src, caret] = stack.slice(0, head).split('\n');
    const col = typeof caret === 'string' ? caret.indexOf('^') + 1 : 0;
    where = '\n    at ' + loc + (col > 0 && typeof src === 'string' ? ':' + col + excerpt(src, col) : '');
    stack = stack.slice(head + 2);
  }
  const out = [];
  for (const line of stack.split('\n')) {
    if (/^\s+at /.test(line)) {
      // The compiler's frames of a syntax error, and everything from the
      // launcher's first frame on, are not the action's.
      if (where !== '' || line.includes(__filename)) break;
      if (line.includes('(node:internal/') || line.includes('at node:internal/')) continue;
    }
    out.push(line);
  }
  let text = out.join('\n') + where;
  if (typeof dir === 'string' && dir !== '') text = text.split(dir + path.sep).join('').split(dir).join('.');
  return text;
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

// setActivationEnv sets __OW_<KEY> for every string field of the /run
// message but value (in the overlay of process.env, directly), and removes
// those of the previous activation.
function setActivationEnv(msg) {
  for (const k of activationKeys) owEnv.delete(k);
  activationKeys = [];
  for (const k in msg) {
    const v = msg[k];
    if (k !== 'value' && typeof v === 'string') {
      const name = '__OW_' + k.toUpperCase();
      owEnv.set(name, v);
      activationKeys.push(name);
    }
  }
}

// init loads the action; on failure it reports the error and exits (the
// returned promise then never settles).
function init(msg) {
  const m = (msg && msg.init) || {};
  let dir;
  try {
    if (typeof m.path !== 'string' || m.path === '') throw 'Missing main/no code to execute.';
    const main = typeof m.main === 'string' && m.main !== '' ? m.main : 'main';
    setEnv(m.env);
    dir = path.dirname(m.path);
    const st = fs.statSync(m.path);
    if (st.isDirectory()) dir = m.path;
    handler = st.isDirectory() ? loadDirectory(m.path, main) : loadSource(m.path, main, m.name);
  } catch (error) {
    handler = undefined;
    const detail = describeError(error, dir);
    console.error('Error during initialization:', detail);
    return markAndAnswered(statusLine(502, { error: 'Initialization has failed due to: ' + detail })).then(() => {
      process.exit(0);
      return new Promise(() => {});
    });
  }
  answer(JSON.stringify({ ok: true }));
  return Promise.resolve();
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

// The activation in progress: {done, finish(line)}, or null.
let current = null;

// An error the action did not catch (an exception thrown by a callback, an
// unhandled rejection) ends the activation in progress as a thrown
// exception does; between activations it is only logged.
function asyncError(kind, error) {
  const act = current;
  try {
    console.error(kind + ':', error);
  } catch (e) {
    // console itself is broken: the answer below still goes out
  }
  if (act !== null && !act.done) act.finish(statusLine(502, { error: 'An error has occurred: ' + str(error) }));
}

// run runs one activation; the returned promise resolves once it has been
// answered (by its result, or by an error the action did not catch).
function run(msg) {
  return new Promise((resolve) => {
    const act = {
      done: false,
      finish(line) {
        if (act.done) return;
        act.done = true;
        if (current === act) current = null;
        markAndAnswer(line, resolve);
      },
    };
    current = act;
    setActivationEnv(msg);
    let value = msg.value;
    if (value === null || value === undefined) value = {};
    if (typeof value !== 'object') {
      const err = "Internal system error: the argument must be a dictionary but has type '" + typeof value + "'.";
      console.error('Internal system error:', err);
      return act.finish(statusLine(403, { error: err }));
    }
    let result;
    try {
      result = handler(value);
    } catch (e) {
      console.error(e);
      return act.finish(statusLine(502, { error: 'An error has occurred: ' + str(e) }));
    }
    if (!isThenable(result)) {
      try {
        return settle(act, result === undefined ? {} : result);
      } catch (e) {
        return act.finish(statusLine(502, { error: 'An error has occurred: ' + str(e) }));
      }
    }
    Promise.resolve(result)
      .then(
        (r) => (r === undefined ? {} : r),
        (e) => (e ? { error: serializeError(e) } : { error: {} })
      )
      .then((r) => settle(act, r));
  });
}

// isThenable reports whether v is a promise (or promise-like) result; a
// thenable whose then getter throws counts as one (the promise rejects).
function isThenable(v) {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return false;
  try {
    return typeof v.then === 'function';
  } catch (e) {
    return true;
  }
}

// settle answers the activation with its result r.
function settle(act, r) {
  if (act.done) return;
  if (typeof r !== 'object') {
    console.error('Result must be of type object but has type "' + typeof r + '":', r);
    return act.finish(statusLine(502, { error: 'The action did not return a dictionary.' }));
  }
  let line;
  try {
    line = JSON.stringify(r);
  } catch (e) {
    // A result whose getters or toJSON throw.
    console.error(e);
    return act.finish(statusLine(502, { error: 'An error has occurred: ' + str(e) }));
  }
  act.finish(line === undefined ? 'null' : line);
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
      await markAndAnswered(statusLine(400, { error: 'Error unmarshaling request: ' + e.message }));
      continue;
    }
    if (handler === undefined) await init(msg);
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
process.on('uncaughtException', (error) => asyncError('Uncaught exception', error));
process.on('unhandledRejection', (reason) => asyncError('Unhandled rejection', reason));
