"""gowhisk python launcher: runs one action with the action-loop protocol of
package runtimes (runtimes/doc.go). Python 3 standard library only.

  fd 3 <- {"ok":true}                         when ready
  stdin -> {"init":{"name","main","path","env"}}
  fd 3 <- {"ok":true} | 502 {"error":...}    (then exit)
  stdin -> one /run body per line
  fd 3 <- result JSON | <status> {"error":...}
"""
import importlib.machinery
import json
import os
import sys
import types

# importlib.util (5 ms of imports) is not needed: the action's module is
# made as importlib.util.module_from_spec makes a module without a loader.
# glob and traceback are imported where they are used (a virtualenv in a
# zip action, an error): their imports (re, contextlib, ...) would add
# about 8 ms to every cold start.

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
NOT_DICTIONARY = "The action did not return a dictionary or array."
PIDS_EXHAUSTED = "The action exhausted the process limit of its container and was aborted."

# The launcher's process. A process the action forked runs the launcher's
# code too once the action's code returns in it: it must leave without
# reading requests or answering on fd 3 (see leave_if_forked).
LAUNCHER_PID = os.getpid()


def leave_if_forked(status):
    """Ends a process the action forked (not the launcher) when it returns
    into the launcher's code, without flushing the launcher's buffers nor
    touching stdin or fd 3."""
    if os.getpid() != LAUNCHER_PID:
        os._exit(status)


def _write_fd(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def answer(line):
    leave_if_forked(1)
    _write_fd(3, line.encode("utf-8", "replace") + b"\n")


def answer_status(status, obj):
    answer("%d %s" % (status, json.dumps(obj, separators=(",", ":"))))


SENTINEL_BYTES = SENTINEL.encode()


def flush_and_mark():
    """Writes the sentinel to fds 1 and 2 behind everything printed so far
    (also when the action replaced sys.stdout or sys.stderr)."""
    for fd, streams in ((1, (sys.stdout, sys.__stdout__)), (2, (sys.stderr, sys.__stderr__))):
        for stream in streams:
            try:
                stream.flush()
            except Exception:
                pass
        try:
            _write_fd(fd, SENTINEL_BYTES)
        except OSError:
            pass


def load(path, main):
    """Loads the action at path (a source file or an unzipped directory) and
    returns its main function; raises InitError with OpenWhisk's message."""
    if os.path.isdir(path):
        os.chdir(path)
        sys.path.insert(0, path)
        venv = os.path.join(path, "virtualenv")
        if os.path.isdir(venv):
            import site
            import glob
            for sp in sorted(glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))):
                site.addsitedir(sp)
        source = os.path.join(path, "__main__.py")
        if not os.path.isfile(source):
            source = os.path.join(path, "exec")
        if not os.path.isfile(source):
            raise InitError("Zip file does not include main__")
    else:
        source = path
        sys.path.insert(0, os.path.dirname(path))
    with open(source, "rb") as f:
        text = f.read()
    try:
        code = compile(text, source, "exec")
    except SyntaxError as er:
        import traceback
        traceback.print_exc(limit=0, file=sys.stderr)
        raise InitError(er.msg)
    module = types.ModuleType("main__")
    module.__spec__ = importlib.machinery.ModuleSpec("main__", None, origin=source)
    module.__loader__ = None
    module.__package__ = ""
    module.__file__ = source
    sys.modules["main__"] = module
    try:
        exec(code, module.__dict__)
    except Exception:
        print_user_exc()
        leave_if_forked(1)
        raise InitError("cannot start action: Command exited abruptly during initialization.")
    leave_if_forked(0)
    fn = getattr(module, main, None)
    if not callable(fn):
        sys.stderr.write("ImportError: cannot import name '%s' from 'main__' (%s)\n" % (main, source))
        raise InitError("cannot start action: Command exited abruptly during initialization.")
    return fn


def print_user_exc():
    """Prints the current exception's traceback without the launcher's frame."""
    etype, value, tb = sys.exc_info()
    try:
        import traceback
        traceback.print_exception(etype, value, tb.tb_next if tb is not None else None, file=sys.stderr)
    except Exception:
        pass


class InitError(Exception):
    pass


def init(msg):
    m = msg.get("init") if isinstance(msg, dict) else None
    m = m if isinstance(m, dict) else {}
    try:
        path = m.get("path")
        if not isinstance(path, str) or path == "":
            raise InitError("Missing main/no code to execute.")
        main = m.get("main") or "main"
        env = m.get("env") or {}
        if isinstance(env, dict):
            for k, v in env.items():
                if v is None:
                    v = ""
                elif not isinstance(v, str):
                    v = json.dumps(v)
                os.environ[str(k)] = v
        fn = load(path, main)
    except InitError as e:
        flush_and_mark()
        answer_status(502, {"error": str(e)})
        os._exit(0)
    except Exception:
        import traceback
        traceback.print_exc(file=sys.stderr)
        flush_and_mark()
        answer_status(502, {"error": "cannot start action: Command exited abruptly during initialization."})
        os._exit(0)
    answer('{"ok":true}')
    return fn


class PidsEvents:
    """Counts the forks the pids cgroup of the launcher refused because its
    limit was reached ("max" in pids.events; cgroup v1 or v2). The count
    is 0 when the file cannot be read (no pids cgroup)."""

    def __init__(self):
        self.fd = None
        try:
            with open("/proc/self/cgroup") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        candidates = []
        for line in lines:
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            rel = parts[2].lstrip("/")
            if "pids" in parts[1].split(","):
                candidates.insert(0, os.path.join("/sys/fs/cgroup/pids", rel, "pids.events"))
            elif parts[0] == "0" and parts[1] == "":
                candidates.append(os.path.join("/sys/fs/cgroup", rel, "pids.events"))
                candidates.append(os.path.join("/sys/fs/cgroup/unified", rel, "pids.events"))
        # In a container whose cgroup paths are the host's (no cgroup
        # namespace), its own cgroup is mounted at the root (the real root
        # cgroup has no pids.events).
        candidates += ["/sys/fs/cgroup/pids/pids.events", "/sys/fs/cgroup/pids.events"]
        for c in candidates:
            try:
                # Kept open: a read at offset 0 regenerates a cgroup file.
                self.fd = os.open(c, os.O_RDONLY | os.O_CLOEXEC)
                return
            except OSError:
                continue

    def count(self):
        if self.fd is None:
            return 0
        try:
            for line in os.pread(self.fd, 256, 0).decode().splitlines():
                k, _, v = line.partition(" ")
                if k == "max":
                    return int(v)
        except (OSError, ValueError):
            pass
        return 0


# The __OW_* variables whose value is new with every activation. os.environ
# holds them without setenv(3): glibc keeps every value setenv was ever
# given, so a warm container would grow by ~60 bytes per activation until
# it hits its memory limit. Child processes started without env= therefore
# do not see these three; the others (API key, namespace, action name and
# version) are set in the real environment, only when they change.
VOLATILE_ENV = frozenset(("__OW_ACTIVATION_ID", "__OW_TRANSACTION_ID", "__OW_DEADLINE"))


def set_env(name, value):
    """Sets os.environ[name], without setenv(3) for the volatile ones."""
    if name in VOLATILE_ENV:
        env = os.environ
        try:
            env._data[env.encodekey(name)] = env.encodevalue(value)
            return
        except AttributeError:  # not CPython's os._Environ
            pass
    if os.environ.get(name) != value:
        os.environ[name] = value


class Runner:
    def __init__(self, fn):
        self.fn = fn
        self.loop = None
        self.keys = set()
        self.pids = PidsEvents()

    def run(self, msg):
        payload = {}
        keys = set()
        if isinstance(msg, dict):
            for k, v in msg.items():
                if k == "value":
                    payload = v
                elif isinstance(v, str):
                    name = "__OW_%s" % k.upper()
                    set_env(name, v)
                    keys.add(name)
        for k in self.keys - keys:
            os.environ.pop(k, None)
        self.keys = keys
        if payload is None:
            payload = {}
        limited = self.pids.count()
        try:
            res = self.fn(payload)
            if hasattr(res, "__await__"):
                if self.loop is None:
                    import asyncio
                    self.loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(self.loop)
                res = self.loop.run_until_complete(_await(res))
        except Exception as ex:
            print_user_exc()
            leave_if_forked(1)
            res = {"error": str(ex)}
        leave_if_forked(0)
        if self.pids.count() > limited:
            # The action hit its container's process limit (a fork bomb):
            # the container is broken, whatever main returned.
            sys.stderr.write("%s\n" % PIDS_EXHAUSTED)
            flush_and_mark()
            answer_status(502, {"error": PIDS_EXHAUSTED})
            os._exit(1)
        line = None
        if isinstance(res, (dict, list)):
            try:
                line = json.dumps(res, ensure_ascii=False, allow_nan=False)
            except Exception:
                import traceback
                traceback.print_exc(file=sys.stderr)
        flush_and_mark()
        if line is None:
            answer_status(502, {"error": NOT_DICTIONARY})
        else:
            answer(line)


async def _await(aw):
    return await aw


def main():
    # Line by line, as the action prints them: no line waits in a buffer
    # (nor is lost by a forked process's os._exit) while later ones, or
    # stderr's, go out.
    try:
        sys.stdout.reconfigure(line_buffering=True)
        sys.stderr.reconfigure(line_buffering=True)
    except (AttributeError, ValueError):
        pass
    answer('{"ok":true}')
    stdin = sys.stdin.buffer
    runner = None
    while True:
        raw = stdin.readline()
        if not raw:
            break
        if not raw.strip():
            continue
        try:
            msg = json.loads(raw)
        except Exception as e:
            flush_and_mark()
            answer_status(400, {"error": "Error unmarshaling request: %s" % e})
            continue
        if runner is None:
            runner = Runner(init(msg))
        else:
            runner.run(msg)
        leave_if_forked(0)


if __name__ == "__main__":
    main()
