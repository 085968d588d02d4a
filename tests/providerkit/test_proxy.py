"""``ucsim record``: the recording proxy between the kit (playing UCloud/Core) and the reference
provider over HTTP. Its trace is read back with :func:`spec.trace.read_trace` and judged by the trace
checker, as a provider team would with ``ucsim check``."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from providerkit.http import HttpAdapter, JsonHandler, listen
from providerkit.proxy import RecordingProxy
from providerkit.server import ProviderServer, read_first_line, serve
from spec.conformance import check_trace
from spec.trace import read_trace
from tests.providerkit.httpkit import WORLD, Core, create, free_port, raw, states
from ucsim.cli import main as ucsim

pytestmark = pytest.mark.timeout(60)

SETTLE_S = 0.05


@dataclass
class Session:
    """The kit's adapter -> proxy -> reference provider, and the provider's updates -> proxy -> adapter."""

    adapter: HttpAdapter
    proxy: RecordingProxy
    server: ProviderServer
    out: Path

    def lines(self) -> list[tuple[str, str, int]]:
        """``(call, actor, status)`` of each line of the trace, once the proxy is closed."""
        self.proxy.close()
        return [(line.call, line.actor, line.response.status) for line in read_trace(self.out)]


def _session(tmp_path: Path, misbehave: str | None = None, name: str = "trace.jsonl") -> Iterator[Session]:
    out = tmp_path / name
    with HttpAdapter("http://127.0.0.1:1", "k8s") as adapter:
        adapter.attach(Core())
        proxy = RecordingProxy(
            out, upstream="http://127.0.0.1:1", core=adapter.control_url, provider_id="k8s"
        )
        try:
            with serve(WORLD, "k8s", core_url=proxy.url, misbehave=misbehave) as server:
                proxy.upstream = server.url
                adapter.base_url = proxy.url
                yield Session(adapter, proxy, server, out)
        finally:
            proxy.close()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    yield from _session(tmp_path)


def test_a_scripted_session_is_recorded_and_the_trace_conforms(session: Session) -> None:
    a = session.adapter
    assert a.call("jobs.provider.create", create(7)).ok
    assert a.hook("advance", {"ms": 1_000}).ok
    assert a.hook("finish", {"id": "7", "exitCode": 0}).ok
    assert states(a.control_calls(settle_s=SETTLE_S)) == [("7", "RUNNING"), ("7", "SUCCESS")]
    assert session.lines() == [
        ("jobs.provider.create", "ucloud", 200),
        ("jobs.control.update", "provider:k8s", 200),
        ("jobs.control.update", "provider:k8s", 200),
    ]  # the hooks were forwarded, not recorded
    first = next(iter(read_trace(session.out)))
    assert first.provider == "k8s" and first.request == create(7)
    assert first.response.body == {"responses": [None]}
    # No user jobs.create line: the checker judges the provider from its jobs.provider.create on.
    report = check_trace(session.out)
    assert (report.verdict, report.exit_code, report.violations) == ("conforms", 0, [])
    assert {jid: (v.verdict, v.state) for jid, v in report.jobs.items()} == {"7": ("conforms", "SUCCESS")}
    result = CliRunner().invoke(ucsim, ["check", str(session.out), "--json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output)["verdict"] == "conforms"


def test_lines_follow_arrival_so_an_update_sent_during_a_terminate_comes_after_it(session: Session) -> None:
    a = session.adapter
    assert a.call("jobs.provider.create", create(8)).ok
    a.hook("advance", {"ms": 1_000})
    assert a.call("jobs.provider.terminate", create(8)).ok  # the provider pushes SUCCESS while answering
    assert a.call("jobs.provider.retrieveProducts", {}).ok  # forwarded, not a trace call
    assert session.lines()[-2:] == [
        ("jobs.provider.terminate", "ucloud", 200),
        ("jobs.control.update", "provider:k8s", 200),
    ]
    lines = list(read_trace(session.out))
    assert [line.seq for line in lines] == [1, 2, 3, 4]
    assert all(x.time <= y.time for x, y in itertools.pairwise(lines))
    assert all(line.end is not None and line.end >= line.time for line in lines)
    assert session.proxy.stats.unrecorded == 2  # the advance hook and retrieveProducts
    assert check_trace(session.out).verdict == "conforms"


def test_a_provider_updating_a_job_it_was_never_given_is_refused_by_the_checker(tmp_path: Path) -> None:
    for s in _session(tmp_path, misbehave="update-unknown-job"):
        assert s.adapter.call("jobs.provider.create", create(7)).ok
        s.adapter.hook("advance", {"ms": 1_000})
        s.proxy.close()
        report = check_trace(s.out)
        assert report.exit_code == 1
        assert [(v.line, v.job, v.prop.name) for v in report.violations] == [
            (3, "1000007", "only-owning-provider")
        ]


def test_an_unreachable_provider_is_a_502_to_the_caller_and_in_the_trace(tmp_path: Path) -> None:
    out = tmp_path / "down.jsonl"
    down = f"http://127.0.0.1:{free_port()}"
    proxy = RecordingProxy(out, upstream=down, core="http://127.0.0.1:1", provider_id="k8s")
    with proxy, HttpAdapter(proxy.url, "k8s") as adapter:
        answer = adapter.call("jobs.provider.create", create(7))
        assert answer.status == 502
        assert answer.why is not None and answer.why.startswith(f"ucsim record: cannot reach {down}")
        assert adapter.hook("reset", {}).status == 502  # forwarded, failed, not recorded
    (line,) = read_trace(out)
    assert (line.call, line.response.status, line.response.why) == ("jobs.provider.create", 502, answer.why)
    assert proxy.stats.upstream_failures == 2


class _Slow(JsonHandler):
    def do_POST(self) -> None:
        self.read_body()
        time.sleep(1.0)
        self.send_json(200, {"responses": [None]})


def test_a_provider_slower_than_the_timeout_is_a_504_in_the_trace(tmp_path: Path) -> None:
    out = tmp_path / "slow.jsonl"
    slow = listen("127.0.0.1", 0, _Slow, None)
    try:
        proxy = RecordingProxy(
            out, upstream=slow.url, core="http://127.0.0.1:1", provider_id="k8s", timeout_s=0.2
        )
        with proxy, HttpAdapter(proxy.url, "k8s") as adapter:
            answer = adapter.call("jobs.provider.create", create(7))
    finally:
        slow.close()
    assert answer.status == 504 and "no answer within 0.2 s" in (answer.why or "")
    (line,) = read_trace(out)
    assert (line.response.status, line.response.why) == (504, answer.why)


def test_bodies_that_are_not_json_are_forwarded_and_recorded_as_text(session: Session) -> None:
    status, body = raw(session.proxy.url, "POST", "/ucloud/k8s/jobs", b"{oops")
    assert status == 400 and "not JSON" in orjson.loads(body)["why"]
    assert session.lines() == [("jobs.provider.create", "ucloud", 400)]
    (line,) = read_trace(session.out)
    assert line.request == "{oops" and line.response.status == 400
    assert "not JSON" in (line.response.why or "")
    assert check_trace(session.out).exit_code == 0  # a refused create leaves nothing to judge


def test_concurrent_calls_are_all_written_in_order(session: Session) -> None:
    a = session.adapter
    errors: list[BaseException] = []

    def creates(start: int) -> None:
        try:
            for jid in range(start, start + 25):
                assert a.call("jobs.provider.create", create(jid)).ok
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=creates, args=(100 * i + 1,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    a.hook("advance", {"ms": 1_000})  # 100 RUNNING updates
    a.control_calls(settle_s=SETTLE_S)
    lines = session.lines()
    assert lines.count(("jobs.provider.create", "ucloud", 200)) == 100
    assert lines.count(("jobs.control.update", "provider:k8s", 200)) == 100
    stats = session.proxy.stats
    assert (stats.lines_written, stats.lost) == (200, 0)
    report = check_trace(session.out)
    assert report.exit_code == 0 and len(report.jobs) == 100


# -- the command ------------------------------------------------------------------------------------


def test_record_refuses_a_busy_port_bad_urls_and_an_unwritable_trace(tmp_path: Path) -> None:
    runner = CliRunner()
    with HttpAdapter("http://127.0.0.1:1", "k8s") as busy:
        port = busy.control_url.rsplit(":", 1)[1]
        args = [
            "record",
            "--listen",
            port,
            "--upstream",
            "http://127.0.0.1:1",
            "--core",
            "http://127.0.0.1:2",
        ]
        result = runner.invoke(ucsim, [*args, "--provider", "k8s", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in result.output
    base = ["record", "--listen", "0", "--provider", "k8s", "--out", str(tmp_path / "t.jsonl")]
    result = runner.invoke(ucsim, [*base, "--upstream", "localhost:8889", "--core", "http://127.0.0.1:2"])
    assert result.exit_code == 2 and "--upstream: 'localhost:8889' is not an http://" in result.output
    bad_out = ["--out", str(tmp_path / "missing" / "t.jsonl")]
    args = ["record", "--listen", "0", "--upstream", "http://127.0.0.1:1", "--core", "http://127.0.0.1:2"]
    result = runner.invoke(ucsim, [*args, "--provider", "k8s", *bad_out])
    assert result.exit_code == 2 and "cannot write" in result.output
    assert "Traceback" not in result.output


def test_record_runs_as_a_process_until_sigterm_and_writes_gzip(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl.gz"
    with HttpAdapter("http://127.0.0.1:1", "k8s") as adapter:
        adapter.attach(Core())
        with serve(WORLD, "k8s", core_url=adapter.control_url) as server:
            argv = [sys.executable, "-c", "from ucsim.cli import main; main()", "record", "--listen", "0"]
            argv += [
                "--upstream",
                server.url,
                "--core",
                adapter.control_url,
                "--provider",
                "k8s",
                "--out",
                str(out),
            ]
            root = Path(__file__).resolve().parents[2]
            env = {**os.environ, "PYTHONPATH": str(root)}
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root)
            try:
                adapter.base_url = server.core_url = read_first_line(proc, 20)
                assert adapter.call("jobs.provider.create", create(7)).ok
                adapter.hook("advance", {"ms": 1_000})
                proc.send_signal(signal.SIGTERM)
                stdout, stderr = proc.communicate(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    assert proc.returncode == 0, stderr
    assert b"wrote 2 lines" in stdout and b"jobs.control.update 1, jobs.provider.create 1" in stdout
    assert [line.call for line in read_trace(out)] == ["jobs.provider.create", "jobs.control.update"]
    assert check_trace(out).exit_code == 0


def test_bearer_tokens_pass_through_the_proxy_both_ways(tmp_path: Path) -> None:
    out = tmp_path / "token.jsonl"
    with HttpAdapter("http://127.0.0.1:1", "k8s", token="s3cret") as adapter:
        adapter.attach(Core())
        proxy = RecordingProxy(
            out, upstream="http://127.0.0.1:1", core=adapter.control_url, provider_id="k8s"
        )
        with proxy, serve(WORLD, "k8s", core_url=proxy.url, token="s3cret") as server:
            proxy.upstream = server.url
            adapter.base_url = proxy.url
            assert adapter.call("jobs.provider.create", create(7)).ok
            assert adapter.hook("advance", {"ms": 1_000}).ok
            assert states(adapter.control_calls(settle_s=SETTLE_S)) == [("7", "RUNNING")]
            assert raw(proxy.url, "POST", "/ucloud/k8s/jobs", orjson.dumps(create(8)))[0] == 401
    assert [(line.call, line.response.status) for line in read_trace(out)] == [
        ("jobs.provider.create", 200),
        ("jobs.control.update", 200),
        ("jobs.provider.create", 401),
    ]
