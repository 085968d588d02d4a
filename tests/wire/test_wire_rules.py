"""The small rules the wire models carry: durations, final states, features, parameter compatibility,
products, wallets, zero values, and the module doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from spec.wire import (
    BACKEND_FEATURES,
    FINAL_STATES,
    AccountingFrequency,
    Application,
    ApplicationParameter,
    ApplicationParameterType,
    AppParameterValue,
    AppParameterValueType,
    JobState,
    JobSupport,
    ProductV2,
    ResourceOwner,
    SimpleDuration,
    SshMode,
    ToolBackend,
    UniversalBackendSupport,
    Wallet,
    WalletOwnerProject,
    WalletOwnerUser,
    feature_key,
    is_go_zero,
    value_type_for_parameter,
    wallet_owner_for,
)

# --- SimpleDuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "ms"),
    [
        (SimpleDuration(), 0),
        (SimpleDuration(hours=1), 3_600_000),
        (SimpleDuration(minutes=1), 60_000),
        (SimpleDuration(seconds=1), 1_000),
        (SimpleDuration(hours=2, minutes=30, seconds=15), 9_015_000),
        (SimpleDuration(hours=100, minutes=59, seconds=59), 363_599_000),
    ],
)
def test_simple_duration_to_and_from_millis(duration: SimpleDuration, ms: int) -> None:
    assert duration.to_millis() == ms
    assert SimpleDuration.from_millis(ms) == duration


def test_from_millis_normalises() -> None:
    assert SimpleDuration(minutes=90, seconds=120).to_millis() == 5_520_000
    assert SimpleDuration.from_millis(5_520_000) == SimpleDuration(hours=1, minutes=32, seconds=0)


@pytest.mark.parametrize("ms", [-1_000, 1, 1_500, 59_999])
def test_from_millis_refuses_what_it_cannot_represent_exactly(ms: int) -> None:
    with pytest.raises(ValueError):
        SimpleDuration.from_millis(ms)


@given(
    hours=st.integers(min_value=0, max_value=10_000),
    minutes=st.integers(min_value=0, max_value=59),
    seconds=st.integers(min_value=0, max_value=59),
)
def test_from_millis_inverts_to_millis_for_normalised_durations(
    hours: int, minutes: int, seconds: int
) -> None:
    duration = SimpleDuration(hours=hours, minutes=minutes, seconds=seconds)
    assert SimpleDuration.from_millis(duration.to_millis()) == duration


def test_from_millis_go_reproduces_ucloud_losing_the_seconds() -> None:
    # orchestrators/applications.go: SimpleDurationFromMillis; reference §9.3 item 3
    assert SimpleDuration.from_millis_go(9_015_000) == SimpleDuration(hours=2, minutes=30, seconds=0)
    assert SimpleDuration.from_millis_go(3_600_000) == SimpleDuration(hours=1)
    assert SimpleDuration.from_millis_go(-90_000) == SimpleDuration(hours=0, minutes=-1, seconds=0)


# --- JobState -------------------------------------------------------------------------------------


def test_job_state_is_final() -> None:
    assert {s for s in JobState if s.is_final} == {JobState.SUCCESS, JobState.FAILURE, JobState.EXPIRED}
    assert {JobState.SUCCESS, JobState.FAILURE, JobState.EXPIRED} == FINAL_STATES
    for state in (JobState.IN_QUEUE, JobState.RUNNING, JobState.SUSPENDED):
        assert not state.is_final
    assert [s.value for s in JobState] == [
        "IN_QUEUE",
        "RUNNING",
        "SUCCESS",
        "FAILURE",
        "EXPIRED",
        "SUSPENDED",
    ]


# --- JobSupport -----------------------------------------------------------------------------------

REF = {"id": "u1-standard-4", "category": "u1-standard", "provider": "k8s"}


def test_features_of_the_k8s_reference_provider() -> None:
    # k8s/shared/products.go as in reference §5.5: containers without bindLinkToPort; VMs without extension
    support = JobSupport.model_validate(
        {
            "product": REF,
            "docker": {"enabled": True, "web": True, "vnc": True, "logs": True, "terminal": True, "peers": True, "timeExtension": True},
            "virtualMachine": {"enabled": True, "web": True, "vnc": True, "logs": True, "terminal": True, "peers": True, "suspension": True, "bindLinkToPort": True},
        }
    )  # fmt: skip
    assert support.features() == {
        "jobs.docker.enabled",
        "jobs.docker.web",
        "jobs.docker.vnc",
        "jobs.docker.logs",
        "jobs.docker.terminal",
        "jobs.docker.peers",
        "jobs.docker.extension",
        "jobs.vm.enabled",
        "jobs.vm.web",
        "jobs.vm.vnc",
        "jobs.vm.logs",
        "jobs.vm.terminal",
        "jobs.vm.peers",
        "jobs.vm.suspension",
        "jobs.vm.bindLinkToPort",
    }
    assert support.supports(ToolBackend.DOCKER, "extension")
    assert not support.supports(ToolBackend.VIRTUAL_MACHINE, "extension")
    assert not support.supports(ToolBackend.NATIVE, "enabled")
    assert not support.supports(ToolBackend.SINGULARITY, "enabled")


def test_every_flag_maps_to_its_own_feature_key() -> None:
    for backend, prefix, block in (
        (ToolBackend.DOCKER, "jobs.docker", "docker"),
        (ToolBackend.NATIVE, "jobs.native", "native"),
        (ToolBackend.VIRTUAL_MACHINE, "jobs.vm", "virtualMachine"),
    ):
        for feature in sorted(BACKEND_FEATURES[backend]):
            flag = "timeExtension" if feature == "extension" else feature
            support = JobSupport.model_validate({"product": REF, block: {flag: True}})
            assert support.features() == {f"{prefix}.{feature}"}, (block, flag)
            assert feature_key(backend, feature) == f"{prefix}.{feature}"
    assert feature_key(ToolBackend.DOCKER, "suspension") is None
    assert JobSupport.model_validate({"product": REF}).features() == frozenset()


def test_backend_support_picks_the_block() -> None:
    support = JobSupport.model_validate(
        {"product": REF, "docker": {"enabled": True}, "virtualMachine": {"suspension": True}, "native": None}
    )
    docker = support.backend_support(ToolBackend.DOCKER)
    assert docker is not None and docker.enabled
    vm = support.backend_support(ToolBackend.VIRTUAL_MACHINE)
    assert vm is support.virtual_machine and vm.suspension  # type: ignore[attr-defined]
    native = support.backend_support(ToolBackend.NATIVE)
    assert native == UniversalBackendSupport()
    assert support.backend_support(ToolBackend.SINGULARITY) is None
    assert support.backend_support(ToolBackend.UCX) is None


def test_support_flags_are_written_like_go_omitempty() -> None:
    support = JobSupport.model_validate({"product": REF, "docker": {"enabled": True, "web": False}})
    assert support.to_wire() == {
        "product": REF,
        "docker": {"enabled": True},
        "virtualMachine": {},
        "native": {},
    }


# --- parameters and values --------------------------------------------------------------------------


def test_value_type_for_parameter_covers_every_parameter_type() -> None:
    V = AppParameterValueType
    expected = {
        "input_file": {V.FILE},
        "input_directory": {V.FILE},
        "text": {V.TEXT},
        "textarea": {V.TEXT},
        "enumeration": {V.TEXT},
        "integer": {V.INTEGER},
        "boolean": {V.BOOLEAN},
        "floating_point": {V.FLOATING_POINT},
        "peer": {V.PEER},
        "license_server": {V.LICENSE_SERVER},
        "ingress": {V.INGRESS},
        "network_ip": {V.NETWORK},
        "workflow": {V.WORKFLOW},
        "modules": {V.MODULES},
        "private_network": {V.PRIVATE_NETWORK},
        "readme": set(),
    }
    assert {t.value for t in ApplicationParameterType} == set(expected)
    for param_type, value_types in expected.items():
        assert value_type_for_parameter(param_type) == value_types, param_type
        assert value_type_for_parameter(ApplicationParameterType(param_type)) == value_types
    # block_storage and api_server are values no parameter takes
    accepted = set().union(*(value_type_for_parameter(t) for t in ApplicationParameterType))
    assert set(V) - accepted == {V.BLOCK_STORAGE, V.API_SERVER}
    with pytest.raises(ValueError):
        value_type_for_parameter("block_storage")


def test_value_type_of_a_parsed_value_is_found_in_the_table() -> None:
    value = TypeAdapter(AppParameterValue).validate_python({"type": "network", "id": "31"})
    assert value.type in value_type_for_parameter("network_ip")
    assert value.type not in value_type_for_parameter("ingress")


@pytest.mark.parametrize(
    ("param", "required"),
    [
        ({"type": "text", "name": "a", "optional": False}, True),
        ({"type": "text", "name": "a", "optional": False, "defaultValue": None}, True),
        ({"type": "text", "name": "a", "optional": False, "defaultValue": "x"}, False),
        ({"type": "integer", "name": "a", "optional": False, "defaultValue": {"value": 5}}, False),
        ({"type": "boolean", "name": "a", "optional": False, "defaultValue": False}, False),
        ({"type": "text", "name": "a", "optional": True}, False),
    ],
)
def test_application_parameter_required(param: dict[str, object], required: bool) -> None:
    assert ApplicationParameter.model_validate(param).required is required


def test_unknown_parameter_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        ApplicationParameter.model_validate({"type": "block_storage", "name": "x"})


def test_floating_point_value_accepts_an_integer_but_not_a_boolean() -> None:
    adapter = TypeAdapter(AppParameterValue)
    assert adapter.validate_python({"type": "floating_point", "value": 1}).value == 1.0
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "floating_point", "value": True})
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "text", "value": 5})


def test_application_backend_and_ssh_mode() -> None:
    app = Application.model_validate(
        {
            "metadata": {"name": "vm", "version": "1"},
            "invocation": {
                "tool": {
                    "name": "vm",
                    "version": "1",
                    "tool": {"description": {"backend": "VIRTUAL_MACHINE"}},
                },
                "applicationType": "WEB",
                "ssh": {"mode": "MANDATORY"},
            },
        }
    )
    assert app.backend is ToolBackend.VIRTUAL_MACHINE
    assert app.ssh_mode is SshMode.MANDATORY
    bare = Application.model_validate(
        {
            "metadata": {"name": "b", "version": "1"},
            "invocation": {"tool": {"name": "b", "version": "1"}, "applicationType": "BATCH"},
        }
    )
    assert bare.backend is None
    assert bare.ssh_mode is SshMode.DISABLED
    assert bare.name_and_version.to_wire() == {"name": "b", "version": "1"}


# --- products and accounting --------------------------------------------------------------------------

CATEGORY = {
    "name": "u1-standard",
    "provider": "k8s",
    "productType": "COMPUTE",
    "accountingUnit": {"name": "Core", "namePlural": "Core hours"},
    "accountingFrequency": "PERIODIC_MINUTE",
}


def test_product_reference_and_kind() -> None:
    product = ProductV2.model_validate(
        {"type": "compute", "category": CATEGORY, "name": "u1-4", "price": 4, "cpu": 4}
    )
    assert product.reference.to_wire() == {"id": "u1-4", "category": "u1-standard", "provider": "k8s"}
    assert product.product_type.value == "COMPUTE"
    derived = ProductV2.model_validate(
        {"productType": "COMPUTE", "category": CATEGORY, "name": "u1-4", "price": 4}
    )
    assert derived.type.value == "compute"
    with pytest.raises(ValidationError, match="different kinds"):
        ProductV2.model_validate(
            {"type": "storage", "productType": "COMPUTE", "category": CATEGORY, "name": "x", "price": 1}
        )


def test_accounting_frequency_to_minutes() -> None:
    assert [f.to_minutes() for f in AccountingFrequency] == [1, 1, 60, 1440]
    assert not AccountingFrequency.ONCE.is_periodic
    assert AccountingFrequency.PERIODIC_DAY.is_periodic


def test_wallet_owner_for_and_locked() -> None:
    assert wallet_owner_for(ResourceOwner(created_by="alice")) == WalletOwnerUser(username="alice")
    assert wallet_owner_for(ResourceOwner(created_by="alice", project="p")) == WalletOwnerProject(
        project_id="p"
    )
    wallet = {"owner": {"type": "user", "username": "alice"}, "paysFor": {"name": "c", "provider": "k8s"}}
    assert Wallet.model_validate({**wallet, "quota": 10, "maxUsable": 0}).locked
    assert not Wallet.model_validate({**wallet, "quota": 10, "maxUsable": 1}).locked
    with pytest.raises(ValidationError):
        Wallet.model_validate(
            {**wallet, "owner": {"type": "group", "username": "x"}, "quota": 1, "maxUsable": 1}
        )
    with pytest.raises(ValidationError):  # a user owner with a non-empty projectId is two owners at once
        Wallet.model_validate(
            {
                **wallet,
                "owner": {"type": "user", "username": "a", "projectId": "p"},
                "quota": 1,
                "maxUsable": 1,
            }
        )


# --- zero values and doctests --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", 0, 0.0, False, [], {}, {"a": "", "b": None, "c": []}])
def test_go_zero_values(value: object) -> None:
    assert is_go_zero(value)


@pytest.mark.parametrize("value", ["x", 1, -1, 0.5, True, ["x"], {"a": 1}, {"a": {"b": 1}}])
def test_go_non_zero_values(value: object) -> None:
    assert not is_go_zero(value)


@pytest.mark.parametrize(
    "module",
    [
        "spec.wire",
        "spec.wire.base",
        "spec.wire.envelopes",
        "spec.wire.applications",
        "spec.wire.products",
        "spec.wire.support",
        "spec.wire.resources",
        "spec.wire.accounting",
        "spec.wire.jobs",
        "spec.wire.schema",
    ],
)
def test_module_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module} has no examples"
    assert result.failed == 0
