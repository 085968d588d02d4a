"""The HTTP adapter against the reference provider served by a real process (``python -m
providerkit.server``) on 127.0.0.1 and a free port: UCloud's provider paths, test hooks, control calls
back to the adapter's endpoint, the bearer token, and bad input answered with a reason."""

from __future__ import annotations

import doctest
import importlib
import io
from collections.abc import Iterator

import orjson
import pytest

from providerkit.adapter import Answer
from providerkit.http import BindError, HttpAdapter, ProviderUnreachable, listen
from providerkit.server import ProviderServer, main, serve, spawn
from spec.rules import resolve
from tests.providerkit.httpkit import WORLD, Core, create, free_port, job_json, raw, states

pytestmark = pytest.mark.timeout(60)

SETTLE_S = 0.05


@pytest.fixture(scope="module")
def core() -> Core:
    return Core()


@pytest.fixture(scope="module")
def provider(core: Core) -> Iterator[tuple[HttpAdapter, str]]:
    """The adapter (its control endpoint is the provider's Core) and the provider process's URL."""
    with HttpAdapter("http://127.0.0.1:1", "k8s", timeout_s=10) as adapter:
        adapter.attach(core)
        with spawn(adapter.control_url) as server:
            adapter.base_url = server.url
            yield adapter, server.url


@pytest.fixture
def adapter(provider: tuple[HttpAdapter, str], core: Core) -> HttpAdapter:
    a = provider[0]
    assert a.hook("reset", {}).status == 200
    a.control_calls(settle_s=SETTLE_S)
    core.seen.clear()
    core.status = 200
    return a


# -- provider calls --------------------------------------------------------------------------------


def test_a_valid_create_is_accepted_and_the_job_is_reported_when_it_runs(adapter: HttpAdapter) -> None:
    answer = adapter.call("jobs.provider.create", create(7))
    assert answer == Answer(200, {"responses": [None]})
    assert adapter.control_calls(settle_s=SETTLE_S) == []  # queued: nothing to report yet
    assert adapter.hook("advance", {"ms": 1_000}).status == 200
    calls = adapter.control_calls(settle_s=SETTLE_S)
    assert states(calls) == [("7", "RUNNING")]
    assert calls[0].answer == Answer(200, {})  # the Core handler's answer, kept with the call


def test_a_malformed_create_gets_400_naming_the_field(adapter: HttpAdapter) -> None:
    job = job_json(7)
    del job["specification"]
    answer = adapter.call("jobs.provider.create", {"items": [job]})
    assert answer.status == 400
    assert answer.why is not None and "specification" in answer.why
    assert adapter.call("jobs.provider.create", [1, 2]).status == 400
    # the provider kept nothing of it
    assert adapter.hook("finish", {"id": "7"}).status == 404


def test_a_body_that_is_not_json_gets_400(provider: tuple[HttpAdapter, str]) -> None:
    _, url = provider
    status, body = raw(url, "POST", "/ucloud/k8s/jobs", b"{not json", {"Content-Type": "application/json"})
    assert status == 400
    assert "not JSON" in orjson.loads(body)["why"]
    status, body = raw(url, "POST", "/ucloud/k8s/jobs", b"")
    assert status == 400 and "empty" in orjson.loads(body)["why"]


def test_the_provider_refuses_what_it_cannot_run(adapter: HttpAdapter) -> None:
    refused = adapter.call("jobs.provider.create", create(8, "refused-by-provider"))
    assert refused == Answer(400, None, "no node can fit this job")


def test_paths_methods_and_unknown_calls(provider: tuple[HttpAdapter, str], adapter: HttpAdapter) -> None:
    _, url = provider
    assert raw(url, "GET", "/ucloud/k8s/jobs")[0] == 405
    assert raw(url, "POST", "/ucloud/k8s/jobs/retrieveProducts", b"{}")[0] == 405
    assert raw(url, "POST", "/ucloud/slurm/jobs", b"{}")[0] == 404
    assert raw(url, "POST", "/api/jobs/control/update", b"{}")[0] == 404
    products = adapter.call("jobs.provider.retrieveProducts", {})
    assert products.ok and {s["product"]["id"] for s in products.body["responses"]} >= {"u1-standard-1"}
    with pytest.raises(ValueError, match="unknown provider call"):
        adapter.call("jobs.provider.follow", {})


def test_terminate_extend_and_suspend_go_to_their_paths(adapter: HttpAdapter) -> None:
    assert adapter.call("jobs.provider.create", create(7)).ok
    adapter.hook("advance", {"ms": 1_000})
    extend = {"items": [{"job": job_json(7), "requestedTime": {"hours": 1, "minutes": 0, "seconds": 0}}]}
    assert adapter.call("jobs.provider.extend", extend) == Answer(200, {"responses": [{}]})
    assert adapter.call("jobs.provider.suspend", {"items": [{"job": job_json(7)}]}).ok
    assert adapter.call("jobs.provider.unsuspend", {"items": [{"job": job_json(7)}]}).ok
    assert adapter.call("jobs.provider.terminate", create(7)) == Answer(200, {"responses": [{}]})
    calls = adapter.control_calls(settle_s=SETTLE_S)
    updates = [item["update"] for c in calls for item in c.request["items"]]
    assert updates[0]["state"] == "RUNNING"
    assert updates[1]["newTimeAllocation"] == 2 * 3_600_000  # k8s: current + requested (reference §5.6)
    assert updates[-1]["state"] == "SUCCESS"  # a user's terminate: SUCCESS pushed at once


def test_a_job_id_that_is_not_a_number_gets_400(adapter: HttpAdapter) -> None:
    assert adapter.call("jobs.provider.terminate", {"items": [{**job_json(7), "id": "x"}]}).status == 400


# -- hooks and control calls ------------------------------------------------------------------------


def test_hooks_finish_and_fail_end_jobs_and_their_updates_reach_the_adapter(
    adapter: HttpAdapter, core: Core
) -> None:
    for jid in (7, 8, 9):
        assert adapter.call("jobs.provider.create", create(jid)).ok
    assert adapter.hook("advance", {"ms": 60_000}).status == 200
    assert adapter.hook("finish", {"id": "7", "exitCode": 1}).status == 200
    assert adapter.hook("fail", {"id": "8"}).status == 200
    assert adapter.hook("advance", {"ms": 3_600_000}).status == 200  # 9 uses up its hour
    seen = states(adapter.control_calls(settle_s=SETTLE_S))
    assert seen[:3] == [("7", "RUNNING"), ("8", "RUNNING"), ("9", "RUNNING")]
    assert seen[3:] == [("7", "SUCCESS"), ("8", "FAILURE"), ("9", "EXPIRED")]  # documented rules
    assert [c for c, _ in core.seen] == ["jobs.control.update"] * 6


def test_hook_errors_are_answers_not_failures(adapter: HttpAdapter) -> None:
    assert adapter.hook("finish", {"id": "404"}).status == 404
    assert adapter.hook("advance", {"ms": -1}).status == 400
    assert adapter.call("jobs.provider.create", create(7)).ok
    assert adapter.hook("finish", {"id": "7"}).status == 409  # still queued


def test_cores_refusal_of_an_update_is_kept_with_the_call(adapter: HttpAdapter, core: Core) -> None:
    core.status = 404
    assert adapter.call("jobs.provider.create", create(7)).ok
    adapter.hook("advance", {"ms": 1_000})
    calls = adapter.control_calls(settle_s=SETTLE_S)
    assert [c.answer.status for c in calls] == [404]


def test_the_control_endpoint_answers_bad_calls_with_a_reason(adapter: HttpAdapter) -> None:
    url = adapter.control_url
    status, body = raw(url, "POST", "/api/jobs/control/update", b"[1,")
    assert status == 400 and "not JSON" in orjson.loads(body)["why"]
    assert raw(url, "POST", "/api/jobs/control/browse", b"{}")[0] == 404
    assert raw(url, "GET", "/api/jobs/control/update")[0] == 405
    usage = {"items": [{"isDeltaCharge": False, "usage": 5}]}
    status, _ = raw(url, "POST", "/api/accounting/v2/reportUsage", orjson.dumps(usage))
    assert status == 200
    assert [(c.call, c.request) for c in adapter.control_calls()] == [("accounting.reportUsage", usage)]


def test_a_failing_core_handler_is_a_500_not_a_dead_endpoint(adapter: HttpAdapter, core: Core) -> None:
    def broken(call: str, request: object) -> Answer:
        raise RuntimeError("boom")

    adapter.attach(broken)
    try:
        status, body = raw(adapter.control_url, "POST", "/api/jobs/control/update", b'{"items": []}')
        assert status == 500 and "boom" in orjson.loads(body)["why"]
    finally:
        adapter.attach(core)


# -- the bearer token -------------------------------------------------------------------------------


def test_the_bearer_token_is_sent_and_enforced_both_ways() -> None:
    core = Core()
    with HttpAdapter("http://127.0.0.1:1", "k8s", token="s3cret") as adapter:
        adapter.attach(core)
        with spawn(adapter.control_url, token="s3cret") as server:
            adapter.base_url = server.url
            assert adapter.call("jobs.provider.create", create(7)).ok
            assert adapter.hook("advance", {"ms": 1_000}).ok
            assert states(adapter.control_calls(settle_s=SETTLE_S)) == [("7", "RUNNING")]
            body = orjson.dumps(create(8))
            assert raw(server.url, "POST", "/ucloud/k8s/jobs", body)[0] == 401
            wrong = {"Authorization": "Bearer nope"}
            assert raw(server.url, "POST", "/ucloud/k8s/jobs", body, wrong)[0] == 401
            assert raw(server.url, "POST", "/ucloud/k8s/test/reset", b"{}")[0] == 401
        update = b'{"items": []}'
        assert raw(adapter.control_url, "POST", "/api/jobs/control/update", update)[0] == 401
        right = {"Authorization": "Bearer s3cret"}
        assert raw(adapter.control_url, "POST", "/api/jobs/control/update", update, right)[0] == 200


def test_a_provider_that_does_not_know_the_token_is_refused() -> None:
    with HttpAdapter("http://127.0.0.1:1", "k8s", token="s3cret") as adapter:
        adapter.attach(Core())
        with serve(WORLD, "k8s", core_url=adapter.control_url, token="other") as server:
            adapter.base_url = server.url
            answer = adapter.call("jobs.provider.create", create(7))
            assert answer == Answer(401, None, "wrong bearer token")


# -- unreachable, closing, bad arguments -----------------------------------------------------------


def test_an_unreachable_provider_raises_with_the_url_and_reason() -> None:
    port = free_port()
    with HttpAdapter(f"http://127.0.0.1:{port}", "k8s", timeout_s=2) as adapter:
        with pytest.raises(ProviderUnreachable, match=rf"127\.0\.0\.1:{port}.*connection refused"):
            adapter.call("jobs.provider.create", create(7))
        with pytest.raises(ProviderUnreachable):
            adapter.hook("reset", {})


def test_close_frees_the_control_port_and_is_idempotent() -> None:
    adapter = HttpAdapter("http://127.0.0.1:1", "k8s")
    url = adapter.control_url
    assert raw(url, "POST", "/api/jobs/control/update", b"{}")[0] == 503  # no Core attached yet
    adapter.close()
    adapter.close()
    with pytest.raises(OSError):
        raw(url, "POST", "/api/jobs/control/update", b"{}")


def test_bad_urls_and_busy_ports_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="not an http:// or https:// URL"):
        HttpAdapter("127.0.0.1:8080", "k8s")
    with HttpAdapter("http://127.0.0.1:1", "k8s") as first:
        port = int(first.control_url.rsplit(":", 1)[1])
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port}: the port is in use"):
            HttpAdapter("http://127.0.0.1:1", "k8s", control_port=port)
    with pytest.raises(BindError, match="not a port number"):
        listen("127.0.0.1", 70_000, object, None)  # type: ignore[arg-type]


def test_the_server_command_refuses_bad_arguments_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--core-url", "http://127.0.0.1:1", "--mutant", "nope"]) == 2
    assert "unknown mutant 'nope'" in capsys.readouterr().err
    assert main(["--core-url", "http://127.0.0.1:1", "--misbehave", "nope"]) == 2
    assert "unknown misbehaviour 'nope'" in capsys.readouterr().err
    assert main(["--core-url", "nowhere"]) == 2
    assert "not an http:// or https:// URL" in capsys.readouterr().err
    assert main(["--core-url", "http://127.0.0.1:1", "--provider", "lsf"]) == 2
    assert "provider 'lsf' is not in the world" in capsys.readouterr().err


def test_a_server_that_cannot_start_says_why() -> None:
    with pytest.raises(RuntimeError, match="unknown mutant"):
        spawn("http://127.0.0.1:1", mutant="nope")


# -- misbehaving providers (in process: the same server, started by serve) --------------------------


def _finish_one(server_args: dict[str, object], exit_code: int) -> list[tuple[str, str | None]]:
    with HttpAdapter("http://127.0.0.1:1", "k8s") as adapter:
        adapter.attach(Core())
        with serve(WORLD, "k8s", core_url=adapter.control_url, **server_args) as server:  # type: ignore[arg-type]
            adapter.base_url = server.url
            assert adapter.call("jobs.provider.create", create(7)).ok
            adapter.hook("advance", {"ms": 1_000})
            adapter.hook("finish", {"id": "7", "exitCode": exit_code})
            return states(adapter.control_calls(settle_s=SETTLE_S))


def test_a_mutant_server_breaks_the_rule_it_is_named_after() -> None:
    assert _finish_one({}, 1) == [("7", "RUNNING"), ("7", "SUCCESS")]
    mutant = resolve("documented", mutant="exit-code-failure")
    assert _finish_one({"config": mutant}, 1) == [("7", "RUNNING"), ("7", "FAILURE")]


def test_a_misbehaving_server_resurrects_a_finished_job() -> None:
    seen = _finish_one({"misbehave": "running-after-success"}, 0)
    assert seen == [("7", "RUNNING"), ("7", "SUCCESS"), ("7", "RUNNING")]


def test_an_unreachable_core_is_logged_by_the_server_not_fatal() -> None:
    log = io.StringIO()
    with HttpAdapter("http://127.0.0.1:1", "k8s") as adapter:
        core_url = f"http://127.0.0.1:{free_port()}"
        with ProviderServer(WORLD, "k8s", core_url=core_url, log=log) as server:
            adapter.base_url = server.url
            assert adapter.call("jobs.provider.create", create(7)).ok
            assert adapter.hook("advance", {"ms": 1_000}).ok  # the update is lost, the hook answered
    assert "jobs.control.update not delivered: cannot reach" in log.getvalue()


@pytest.mark.parametrize("module", ["providerkit.http", "providerkit.server"])
def test_module_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no examples"
    assert result.failed == 0
