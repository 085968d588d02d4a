"""The scenario file: the default scenario, the spec objects built from it, and errors that name the
file, the line and the field.

Error cases are small edits of one base scenario (written as TOML text, so line numbers are real):
each asserts the field path, the line the locator finds, and a fragment of the reason.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from simulator.scenario import (
    INVALID_KINDS,
    Constant,
    Distribution,
    Exponential,
    LogNormal,
    Pareto,
    Scenario,
    ScenarioError,
    Uniform,
    default_scenario_text,
    load_default_scenario,
    load_scenario,
    toml_positions,
)
from spec.rules import resolve
from spec.system import ProtocolModel
from spec.validation import validate_submission
from spec.wire import (
    Application,
    JobSpecification,
    JobSupport,
    ProductReference,
    ProductV2,
    ToolBackend,
    Wallet,
)
from ucsim.cli import main

# ----------------------------------------------------------------------------------- the default


@pytest.fixture(scope="module")
def default() -> Scenario:
    return load_default_scenario()


def test_default_scenario_loads_with_two_providers(default: Scenario) -> None:
    assert [p.name for p in default.providers] == ["k8s", "slurm"]
    k8s, slurm = default.providers
    assert k8s.support.backends() == ["DOCKER", "VIRTUAL_MACHINE"]
    assert slurm.support.backends() == ["NATIVE"]
    assert k8s.support.virtual_machine is not None and k8s.support.virtual_machine.suspension
    assert slurm.support.native is not None and slurm.support.native.time_extension
    assert len(default.request_templates()) > 10
    assert default.warnings == ()  # both providers are loaded below 1
    assert 0.7 < default.offered_load("k8s") < 1.0 and 0.7 < default.offered_load("slurm") < 1.0


def test_catalog_holds_real_wire_objects(default: Scenario) -> None:
    catalog = default.catalog()
    assert all(isinstance(a, Application) for a in catalog.applications.values())
    assert all(isinstance(p, ProductV2) for p in catalog.products.values())
    assert all(isinstance(s, JobSupport) for s in catalog.support.values())
    assert all(isinstance(w, Wallet) for w in catalog.wallets.values())
    vm_support = catalog.support[("k8s", "u1-standard", "u1-standard-4")]
    assert vm_support.backend_features(ToolBackend.VIRTUAL_MACHINE) >= {"enabled", "suspension"}
    assert sorted(catalog.resources) == ["ingress:55", "license_server:77"]
    assert catalog.has_allocation("project:p-physics", _ref("u1-gpu-1", "u1-gpu", "k8s"))
    assert not catalog.has_allocation("user:carol", _ref("u1-standard-1", "u1-standard", "k8s"))


def _ref(product: str, category: str, provider: str) -> ProductReference:
    return ProductReference(id=product, category=category, provider=provider)


def test_every_template_gets_the_answer_it_promises(default: Scenario) -> None:
    """Valid templates pass Core's validation (directly and through World.validate); each invalid
    one is refused with the status its kind calls for."""
    world = default.world()
    cfg = resolve(default.variant, default.rules)
    state = ProtocolModel(world, cfg).init_state()
    kinds = set()
    for info, template, request in zip(
        default.template_info(), world.templates, default.request_templates(), strict=True
    ):
        assert isinstance(request.request, JobSpecification)
        assert template.index == info.index and template.replicas == info.replicas
        direct = validate_submission(request.request, request.user, request.project, world.catalog, cfg=cfg)
        via_world = world.validate(info.index, state, cfg)
        if info.expect is None:
            assert direct is None and via_world is None, (info.name, direct)
        else:
            assert direct is not None and direct.status == info.expect, (info.name, direct)
            assert via_world is not None and via_world[0] == info.expect
        if info.name.startswith("invalid:"):
            kind = info.name.removeprefix("invalid:")
            kinds.add(kind)
            assert info.expect == INVALID_KINDS[kind]
    assert kinds == set(default.workload.invalid.kinds)


def test_every_invalid_kind_can_be_built() -> None:
    data = _default_data()
    data["workload"]["invalid"]["kinds"] = list(INVALID_KINDS)
    data["applications"][0]["ssh"] = "DISABLED"
    s = Scenario.from_dict(data)
    built = {
        t.name.removeprefix("invalid:"): t.expect for t in s.template_info() if t.name.startswith("invalid:")
    }
    assert built == INVALID_KINDS


def test_vm_allocation_is_cleared_and_world_bounds_follow_the_scenario(default: Scenario) -> None:
    vm = next(t for t in default.template_info() if t.name == "vm")
    assert vm.allocation_s is None
    world = default.world()
    assert world.providers == ("k8s", "slurm")
    assert world.exit_codes == (0, 1, 2, 137)
    assert world.extension_ms == 3_600_000
    assert default.config().variant == "documented"


def test_replica_choices_become_one_template_each(default: Scenario) -> None:
    names = [t.name for t in default.template_info() if t.name.startswith("batch[")]
    assert names == ["batch[replicas=1]", "batch[replicas=2]", "batch[replicas=4]"]
    entries, _ = default.mix_plan()
    assert [w for _, w in entries[0][1]] == [0.6, 0.25, 0.15]


def test_provider_nodes_and_slices(default: Scenario) -> None:
    k8s = default.provider("k8s")
    names = [n[0] for n in k8s.node_specs()]
    assert len(names) == 18 and len(set(names)) == 18 and names[0] == "cpu-0" and names[-1] == "gpu-1"
    cluster = k8s.build_cluster()
    assert cluster.total_cores == 576
    assert default.product("u1-gpu-1").slice().gpus == 1


# ------------------------------------------------------------------------------- small scenarios

TINY = """\
[[providers]]
name = "k8s"

[[products]]
name = "u1-standard-4"
provider = "k8s"
cpu = 4

[[applications]]
name = "acme-batch"
"""


def test_a_tiny_scenario_gets_defaults_everywhere() -> None:
    s = Scenario.from_toml(TINY)
    assert s.run.jobs == 1000 and s.users[0].name == "user"
    [template] = s.request_templates()
    assert template.request.product.id == "u1-standard-4" and template.user == "user"
    assert validate_submission(template.request, "user", None, s.catalog()) is None  # unlimited wallet
    assert s.offered_load() == pytest.approx(0.7)


def test_overrides_give_a_checked_copy() -> None:
    s = Scenario.from_toml(TINY)
    t = s.with_overrides({"faults.node_failure.mtbf_s": 3600.0, "providers.0.scheduling.policy": "easy"})
    assert (
        t.faults.node_failure.rate_per_s == pytest.approx(1 / 3600)
        and t.providers[0].scheduling.policy == "easy"
    )
    assert s.faults.node_failure.rate_per_s == 0
    with pytest.raises(ScenarioError, match=r"providers\[0\]\.scheduling\.policy: unknown scheduling policy"):
        s.with_overrides({"providers.0.scheduling.policy": "sjf"})


# ------------------------------------------------------------------------------------ the locator


def test_locator_follows_tables_arrays_of_tables_and_inline_values() -> None:
    text = textwrap.dedent(
        """\
        seed = 1  # a comment with [brackets] and = signs
        a.b.c = "x"

        [run]
        jobs = 5
        [[providers]]
        name = "one"
        [[providers.cluster.nodes]]
        cores = 4
        [[providers]]
        name = '''two
        [not a header]'''
        [providers.support.docker]
        web = true
        [[providers.cluster.nodes]]
        cores = 8
        [[providers.cluster.nodes]]
        "memory_gb" = 16
        [workload]
        mix = [
            { name = "m0" },  # [ ] { }
            { name = "m1", replicas = { values = [1, 2] } },
        ]
        """
    )
    pos = toml_positions(text)
    assert pos[("seed",)] == 1
    assert pos[("a", "b", "c")] == 2 and pos[("a",)] == 2
    assert pos[("run", "jobs")] == 5
    assert pos[("providers", 0)] == 6 and pos[("providers", 0, "cluster", "nodes", 0, "cores")] == 9
    assert pos[("providers", 1)] == 10 and pos[("providers", 1, "name")] == 11
    assert pos[("providers", 1, "support", "docker", "web")] == 14
    assert pos[("providers", 1, "cluster", "nodes", 0, "cores")] == 16
    assert pos[("providers", 1, "cluster", "nodes", 1, "memory_gb")] == 18
    assert pos[("workload", "mix", 0, "name")] == 21
    assert pos[("workload", "mix", 1, "replicas", "values", 1)] == 22


# ------------------------------------------------------------------------------------------ errors

BASE = """\
seed = 7
variant = "documented"
users = ["alice", "bob"]

[[providers]]
name = "k8s"
scheduling = { policy = "fcfs" }
support = { docker = { logs = true } }

[[providers.cluster.nodes]]
count = 2
cores = 16
memory_gb = 64

[[providers]]
name = "slurm"
support = { native = {} }

[[providers.cluster.nodes]]
count = 2
cores = 32

[[products]]
name = "small"
provider = "k8s"
cpu = 2

[[products]]
name = "node"
provider = "slurm"
cpu = 32

[[applications]]
name = "batch"
parameters = [{ name = "value", type = "text" }]

[[applications]]
name = "native"
backend = "NATIVE"

[[wallets]]
user = "alice"
category = "small"
quota = 1000

[workload]
runtime_s = { kind = "lognormal", mean = 600, sigma = 1.0 }

[[workload.mix]]
name = "b"
user = "alice"
application = "batch"
product = "small"
parameters = { value = "hi" }

[workload.invalid]
fraction = 0.1
"""


def _default_data() -> dict:
    import tomllib

    return tomllib.loads(BASE)


def _error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(text, source="s.toml")
    return info.value


def test_the_base_scenario_is_valid() -> None:
    s = Scenario.from_toml(BASE, source="s.toml")
    assert [t.name for t in s.template_info()] == [
        "b",
        "invalid:zero-replicas",
        "invalid:unknown-application",
        "invalid:no-allocation",
    ]
    assert s.request_templates()[3].user == "bob"


@pytest.mark.parametrize(
    ("old", "new", "path", "line", "fragment"),
    [
        ("cores = 16", "cores = 0", "providers[0].cluster.nodes[0].cores", 12, "greater than 0"),
        ("cores = 32", 'cores = "32"', "providers[1].cluster.nodes[0].cores", 21, "valid integer"),
        (
            "memory_gb = 64",
            "memory_gib = 64",
            "providers[0].cluster.nodes[0].memory_gib",
            13,
            "did you mean 'memory_gb'",
        ),
        (
            'policy = "fcfs"',
            'policy = "fifo"',
            "providers[0].scheduling.policy",
            7,
            "unknown scheduling policy 'fifo'",
        ),
        ('variant = "documented"', 'variant = "current"', "variant", 2, "unknown variant"),
        ("seed = 7", 'seed = 7\nmutant = "no-such"', "mutant", 2, "unknown mutant"),
        (
            "seed = 7",
            "seed = 7\nrules = { final-to-finl = true }",
            "rules.final-to-finl",
            2,
            "did you mean 'final-to-final'",
        ),
        (
            'provider = "slurm"\ncpu = 32',
            'provider = "lsf"\ncpu = 32',
            "products[1].provider",
            30,
            "unknown provider 'lsf'",
        ),
        (
            'category = "small"',
            'category = "big"',
            "wallets[0].category",
            43,
            "unknown product category 'big'",
        ),
        (
            'user = "alice"\ncategory',
            'user = "carol"\ncategory',
            "wallets[0].user",
            42,
            "unknown user 'carol'",
        ),
        ("sigma = 1.0 }", "sigma = -1.0 }", "workload.runtime_s.sigma", 47, "greater than 0"),
        ("mean = 600, sigma = 1.0", "mean = 600", "workload.runtime_s.sigma", 47, "missing required field"),
        (
            'kind = "lognormal"',
            'kind = "lognorm"',
            "workload.runtime_s",
            47,
            "does not match any of the expected tags",
        ),
        (
            'product = "small"',
            'product = "node"',
            "workload.mix[0].application",
            52,
            "batch is a DOCKER application; provider 'slurm' runs NATIVE",
        ),
        ('product = "small"', 'product = "smal"', "workload.mix[0].product", 53, "did you mean 'small'"),
        ('value = "hi"', "value = 3", "workload.mix[0].parameters.value", 54, "400 incorrect parameter type"),
        (
            'value = "hi"',
            'value = { type = "txt", value = "hi" }',
            "workload.mix[0].parameters.value",
            54,
            "tag",
        ),
        ("fraction = 0.1", "fraction = 1.5", "workload.invalid.fraction", 57, "less than or equal to 1"),
        (
            'name = "b"\nuser = "alice"',
            'name = "b"\nuser = "bob"',
            "workload.mix[0].product",
            53,
            "402 You do not have any valid allocations",
        ),
        (
            "[workload.invalid]\nfraction = 0.1",
            '[workload.invalid]\nfraction = 0.1\nkinds = ["missing-parameter", "ssh-not-allowd"]',
            "workload.invalid.kinds[1]",
            58,
            "Input should be",
        ),
        (
            "fraction = 0.1\n",
            "fraction = 0.1\n\n[faults.vanish]\nprobability = 1.5\n",
            "faults.vanish.probability",
            60,
            "less than or equal to 1",
        ),
        (
            "fraction = 0.1\n",
            'fraction = 0.1\n\n[faults.vanish]\nprobability = 0.1\nproviders = ["lsf"]\n',
            "faults.vanish.providers[0]",
            61,
            "unknown provider 'lsf'",
        ),
        (
            "fraction = 0.1\n",
            "fraction = 0.1\n\n[workload.follow]\nfraction = 2\n",
            "workload.follow.fraction",
            60,
            "less than or equal to 1",
        ),
        (
            "fraction = 0.1\n",
            'fraction = 0.1\n\n[workload.sessions]\nfraction = 0.1\nkinds = ["WEB", "RDP"]\n',
            "workload.sessions.kinds[1]",
            61,
            "Input should be",
        ),
        (
            "fraction = 0.1\n",
            "fraction = 0.1\n\n[workload.suspensions]\nfraction = -0.5\n",
            "workload.suspensions.fraction",
            60,
            "greater than or equal to 0",
        ),
    ],
)
def test_errors_name_file_line_and_field(old: str, new: str, path: str, line: int, fragment: str) -> None:
    assert BASE.count(old) == 1, old
    error = _error(BASE.replace(old, new))
    problem = next((p for p in error.problems if p.path == path), None)
    assert problem is not None, str(error)
    assert problem.line == line, str(error)
    assert fragment in problem.message, str(error)
    assert f"s.toml:{line}: {path}: " in str(error)


def test_a_key_under_the_wrong_table_is_explained() -> None:
    error = _error(BASE + 'description = "too late"\n')
    assert "workload.invalid.description" in str(error) and "wrong [table]" in str(error)


def test_expect_mismatch_and_malformed_toml() -> None:
    error = _error(
        BASE.replace('parameters = { value = "hi" }', 'parameters = { value = "hi" }\nexpect = 400')
    )
    assert "s.toml:55: workload.mix[0].expect: Core accepts this request, but expect = 400" in str(error)
    error = _error("seed = 1\n[[providers]\n")
    assert error.problems[0].line == 2 and "not valid TOML" in str(error)


def test_several_problems_are_reported_together() -> None:
    error = _error(BASE.replace("cores = 16", "cores = -1").replace("quota = 1000", "quota = -5"))
    assert {p.path for p in error.problems} == {"providers[0].cluster.nodes[0].cores", "wallets[0].quota"}
    assert str(error).startswith("s.toml: 2 problems")


def test_policy_parameters_are_checked_by_the_registry() -> None:
    error = _error(
        BASE.replace('{ policy = "fcfs" }', '{ policy = "fcfs", params = { placement = "random" } }')
    )
    assert error.problems[0].path == "providers[0].scheduling.params" and error.problems[0].line == 7


def test_load_scenario_reads_files_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BASE.replace("cores = 16", "cores = 0"))
    with pytest.raises(ScenarioError, match=r"mine\.toml:12: providers\[0\]\.cluster\.nodes\[0\]\.cores"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "absent.toml")


def test_swf_path_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        BASE.replace("[workload]\n", '[workload.swf]\npath = "log.swf"\nprovider = "k8s"\n\n[workload]\n')
    )
    with pytest.raises(ScenarioError, match=r"workload\.swf\.path: no such file"):
        load_scenario(path)


def test_overrides_keep_an_swf_replay_valid(tmp_path: Path) -> None:
    """with_overrides re-validates a dump of the scenario; the default arrivals must not come back into
    an SWF replay (giving both is refused), so sweeps can vary an SWF scenario."""
    from simulator.swf import generate_swf, write_swf

    write_swf(tmp_path / "log.swf", generate_swf(20, 16, seed=1).jobs)
    path = tmp_path / "s.toml"
    path.write_text(
        BASE.replace("[workload]\n", '[workload.swf]\npath = "log.swf"\nprovider = "k8s"\n\n[workload]\n')
    )
    s = load_scenario(path)
    t = s.with_overrides({"providers.0.scheduling.policy": "easy"})
    assert t.workload.swf is not None and t.providers[0].scheduling.policy == "easy"
    assert t.swf_path() == s.swf_path()
    with pytest.raises(ScenarioError, match="not both"):
        s.with_overrides({"workload.arrivals": {"kind": "poisson", "offered_load": 0.5}})


# ---------------------------------------------------------------------------------- distributions


@pytest.mark.parametrize(
    "dist",
    [
        Constant(value=3.0),
        Uniform(kind="uniform", low=1.0, high=5.0),
        Uniform(kind="uniform", low=1.0, high=5.0, max=3.0),
        Exponential(kind="exponential", mean=10.0),
        Exponential(kind="exponential", mean=10.0, max=7.0),
        LogNormal(kind="lognormal", mean=100.0, sigma=1.0),
        LogNormal(kind="lognormal", median=100.0, sigma=1.5, max=500.0),
        Pareto(kind="pareto", alpha=2.5, scale=10.0),
        Pareto(kind="pareto", alpha=1.0, scale=10.0, max=1000.0),
        Pareto(kind="pareto", alpha=0.8, scale=10.0, max=1000.0),
    ],
)
def test_analytic_means_match_the_quantile_function(dist: Distribution) -> None:
    """The mean is the integral of the quantile function over (0, 1): a midpoint sum checks it."""
    n = 200_000
    numeric = sum(dist.quantile((i + 0.5) / n) for i in range(n)) / n
    tail_ok = 0.02 if dist.max is None and dist.kind in ("pareto", "lognormal") else 1e-3
    assert numeric == pytest.approx(dist.mean(), rel=tail_ok)
    assert dist.mean(cap=2.0) <= 2.0 + 1e-12


def test_distribution_fields_accept_numbers_and_reject_bad_tables() -> None:
    s = Scenario.from_toml(TINY + "[workload]\nruntime_s = 60\n")
    assert s.workload.runtime_s == Constant(value=60.0)
    error = _error(TINY + '[workload]\nruntime_s = { kind = "pareto", alpha = 0.5, scale = 1 }\n')
    assert "no mean; set max" in str(error) and error.problems[0].line == 12
    assert error.problems[0].path == "workload.runtime_s"
    assert math.isinf(Exponential(kind="exponential", mean=1.0).quantile(1.0)) is False


# ------------------------------------------------------------------------------------- ucsim CLI


def test_ucsim_validate_default_and_files(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "provider k8s: 18 nodes, 576 cores" in result.output and "3000 jobs" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("cores = 16", "cores = 0"))
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml:12: providers[0].cluster.nodes[0].cores" in result.output
    assert "Traceback" not in result.output
    good = tmp_path / "good.toml"
    good.write_text(default_scenario_text())
    assert runner.invoke(main, ["validate", str(good)]).exit_code == 0
