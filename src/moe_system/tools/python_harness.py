"""The harness `tools.python_check` runs inside the sandbox: it is sent as source (`main.py`) and run there with
`python -I -B`, so it imports the standard library only (never `moe_system`). It is a module of its own, not a string,
so it is linted and type-checked like the rest; `python_check` imports it only for `ERROR` and `TIMEOUT`, and
everything it does is under `if __name__ == "__main__"`.

It reads spec.json, forks one child per candidate and prints `marker` + {index: report} as its last line. It runs no
candidate code itself. A child closes its standard streams, gets its own process group and folder, executes the code
in a fresh namespace and reports through a pipe {"defined", "error", "outputs", "passed"}; the harness kills it (and,
in a PID namespace, every process but itself) when it is done or out of time.
"""

import ast
import contextlib
import json
import math
import os
import select
import shutil
import signal
import sys
import tempfile
import time

ERROR, TIMEOUT = "<error>", "<timeout>"  # what an output is when the call raised or ran too long
PLAIN = (int, float, complex, str, bytes, bool, type(None), list, tuple, dict, set, frozenset)


class CallTimeout(BaseException):
    pass


def on_alarm(*_):
    raise CallTimeout


def canonical(value, depth=0, type=type, repr=repr, len=len, sorted=sorted, round=round, str=str,
              isfinite=math.isfinite):  # bound now: a candidate may patch builtins and modules
    kind = type(value)
    if depth > 20 or kind not in PLAIN:
        return '<' + kind.__name__ + '>'
    if kind is float:
        return repr(round(value, 9)) if isfinite(value) else repr(value)
    if kind in (list, tuple):
        inner = ', '.join(canonical(v, depth + 1) for v in value)
        return '[' + inner + ']' if kind is list else '(' + inner + (',)' if len(value) == 1 else ')')
    if kind is dict:
        pairs = sorted(canonical(k, depth + 1) + ': ' + canonical(v, depth + 1) for k, v in value.items())
        return '{' + ', '.join(pairs) + '}'
    if kind in (set, frozenset):
        return kind.__name__ + '(' + str(sorted(canonical(v, depth + 1) for v in value)) + ')'
    text = repr(value)
    return text if len(text) <= 2000 else text[:2000] + '...'


def same(out, expected, type=type, isinstance=isinstance, isclose=math.isclose, canonical=canonical):
    if type(out) not in PLAIN:
        return False
    if isinstance(out, float) or isinstance(expected, float):
        try:
            return isclose(out, expected, rel_tol=1e-6, abs_tol=1e-9)
        except TypeError:
            return False
    return canonical(out) == canonical(expected)


def child(candidate, dumps=json.dumps):
    return dumps(checked(candidate)).encode()


def checked(candidate, len=len, callable=callable, type=type, str=str, enumerate=enumerate,
            literal_eval=ast.literal_eval, setitimer=signal.setitimer):
    signal.signal(signal.SIGALRM, on_alarm)
    report: dict = {'defined': False, 'error': '', 'outputs': [], 'passed': []}
    namespace = {'__name__': '__candidate__', '__builtins__': __builtins__}
    try:
        setitimer(signal.ITIMER_REAL, SPEC['module_limit_s'])
        exec(compile(candidate['code'], '<candidate>', 'exec'), namespace)
        setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:
        setitimer(signal.ITIMER_REAL, 0)
        report['error'] = 'the code fails: ' + type(exc).__name__ + ': ' + str(exc)[:150]
    target = namespace.get(candidate['target'])
    if not callable(target):
        report['error'] = report['error'] or '`' + candidate['target'] + '` is not defined'
        return report
    report['defined'] = True
    if candidate['kind'] == 'class':
        return run_usage(target, candidate['usage'], report) if candidate['usage'] else report
    if candidate['kind'] != 'function':
        return report
    expected = [literal_eval(e) for e in candidate['expected']]
    timeouts = 0
    for index, text in enumerate(candidate['inputs']):
        args = literal_eval(text)
        if timeouts >= 2:  # an endless loop: the other inputs are not tried
            report['outputs'].append(TIMEOUT)
            report['passed'].append(False) if index < len(expected) else None
            continue
        try:
            setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
            out = target(*args)  # type: ignore[operator]  # `callable` is a parameter: mypy cannot narrow
            setitimer(signal.ITIMER_REAL, 0)
            shown = canonical(out)
        except CallTimeout:
            out, shown, timeouts = None, TIMEOUT, timeouts + 1
        except BaseException:
            setitimer(signal.ITIMER_REAL, 0)
            out, shown = None, ERROR
        report['outputs'].append(shown)
        if index < len(expected):
            report['passed'].append(shown not in (ERROR, TIMEOUT) and same(out, expected[index]))
    return report


def run_usage(cls, usage, report, literal_eval=ast.literal_eval, setitimer=signal.setitimer, getattr=getattr,
              type=type, isinstance=isinstance, builtins=__builtins__):
    broken = False
    try:
        setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
        obj = cls(*literal_eval(usage['init']))
        setitimer(signal.ITIMER_REAL, 0)
    except BaseException:
        setitimer(signal.ITIMER_REAL, 0)
        broken = True
    for method, args, check, value in usage['steps']:
        raised = None
        if broken:
            out, shown = None, ERROR
        else:
            try:
                setitimer(signal.ITIMER_REAL, SPEC['call_limit_s'])
                out = getattr(obj, method)(*literal_eval(args))
                setitimer(signal.ITIMER_REAL, 0)
                shown = canonical(out)
            except CallTimeout:
                out, shown, broken = None, TIMEOUT, True
            except BaseException as exc:
                setitimer(signal.ITIMER_REAL, 0)
                out, shown, raised = None, ERROR, exc
        report['outputs'].append(shown)
        if check == 'raises':
            name = literal_eval(value)
            kind = getattr(builtins, name, None) if not isinstance(builtins, dict) else builtins.get(name)
            report['passed'].append(raised is not None and (type(raised).__name__ == name or (
                isinstance(kind, type) and isinstance(raised, kind))))
        elif check == 'value':
            report['passed'].append(raised is None and shown not in (ERROR, TIMEOUT) and same(out, literal_eval(value)))
    return report


def run_one(candidate):
    read, write = os.pipe()
    folder = tempfile.mkdtemp()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            os.setpgid(0, 0)
            os.chdir(folder)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            data = child(candidate)
            while data:
                data = data[os.write(write, data):]
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + SPEC['candidate_limit_s']
    chunks, timed_out = [], False
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([read], [], [], left)[0]:
            timed_out = True
            break
        chunk = os.read(read, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(OSError):
            kill()
    if SPEC['pid_namespace'] and os.getppid() == 1:  # every process but this one and the namespace's init
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)
    shutil.rmtree(folder, ignore_errors=True)
    if timed_out:
        return {'timeout': True}
    try:
        report = json.loads(b''.join(chunks))
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


if __name__ == "__main__":
    with open('spec.json', encoding='utf-8') as spec_file:
        SPEC = json.load(spec_file)
    reports = {}
    for index, candidate in enumerate(SPEC['candidates']):
        report = run_one(candidate)
        if report is not None:
            reports[index] = report
    sys.stdout.write('\n' + SPEC['marker'] + json.dumps(reports) + '\n')
    sys.stdout.flush()
