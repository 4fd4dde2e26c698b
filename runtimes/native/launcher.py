"""gowhisk native launcher: runs a native executable (a script with a
shebang, a binary, or the `exec` of a zip) with the action-loop protocol of
package runtimes (runtimes/doc.go), with OpenWhisk's docker-skeleton
semantics: per activation the executable runs with the JSON arguments as
argv[1] (and on stdin); the last stdout line is the result, the rest of
stdout and stderr are logs. Python 3 standard library only.
"""
import json
import os
import subprocess
import sys

SENTINEL = b"XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
NOT_DICTIONARY = "The action did not return a dictionary or array."
NO_BINARY = "The action failed to generate or locate a binary. See logs for details."
NOT_RECEIVED = "The action did not receive a dictionary or array as an argument."
MAX_ARG = 131071  # MAX_ARG_STRLEN - 1


def _write_fd(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def answer(line):
    _write_fd(3, line.encode("utf-8", "replace") + b"\n")


def answer_status(status, obj):
    answer("%d %s" % (status, json.dumps(obj, separators=(",", ":"))))


def mark():
    _write_fd(1, SENTINEL)
    _write_fd(2, SENTINEL)


def init(msg):
    m = msg.get("init") if isinstance(msg, dict) else None
    m = m if isinstance(m, dict) else {}
    path = m.get("path")
    env = m.get("env") or {}
    if not (isinstance(path, str) and os.path.isfile(path) and os.access(path, os.X_OK)):
        _write_fd(2, ("%s: not an executable file\n" % path).encode())
        mark()
        answer_status(502, {"error": NO_BINARY})
        os._exit(0)
    base = dict(os.environ)
    if isinstance(env, dict):
        for k, v in env.items():
            base[str(k)] = v if isinstance(v, str) else ("" if v is None else json.dumps(v))
    answer('{"ok":true}')
    return path, base


def run(path, base, msg):
    if not isinstance(msg, dict):
        msg = {}
    args = msg.get("value")
    if args is None:
        args = {}
    if not isinstance(args, (dict, list)):
        mark()
        return answer_status(404, {"error": NOT_RECEIVED})
    env = dict(base)
    for k, v in msg.items():
        if k != "value" and isinstance(v, str):
            env["__OW_%s" % k.upper()] = v
    data = json.dumps(args, separators=(",", ":"))
    argv = [path] if len(data) > MAX_ARG else [path, data]
    try:
        p = subprocess.run(argv, input=data.encode(), stdout=subprocess.PIPE, env=env,
                           cwd=os.path.dirname(path))
        out = p.stdout.decode("utf-8", "replace")
    except Exception as e:
        _write_fd(1, ("%s\n" % e).encode())
        mark()
        return answer_status(502, {"error": NOT_DICTIONARY})
    last_nl = out.rfind("\n", 0, len(out) - 1)
    if last_nl != -1:
        last = out[last_nl + 1:].strip()
        _write_fd(1, out[:last_nl + 1].encode())
    else:
        last = out.strip()
    try:
        res = json.loads(last)
    except Exception:
        res = None
    if isinstance(res, (dict, list)):
        mark()
        return answer(json.dumps(res, separators=(",", ":"), ensure_ascii=False))
    if last:
        _write_fd(1, (last + "\n").encode())
    mark()
    answer_status(502, {"error": NOT_DICTIONARY})


def main():
    answer('{"ok":true}')
    stdin = sys.stdin.buffer
    state = None
    while True:
        raw = stdin.readline()
        if not raw:
            break
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw.decode("utf-8"))
        except Exception as e:
            mark()
            answer_status(400, {"error": "Error unmarshaling request: %s" % e})
            continue
        if state is None:
            state = init(msg)
        else:
            run(state[0], state[1], msg)


if __name__ == "__main__":
    main()
