"""Applications, their parameters, and the values a job supplies for them.

Source: ``provider-integration/shared/pkg/orchestrators/applications.go`` (reference §3).

An :class:`Application` is ``{metadata, invocation}``. Its invocation names a *tool* (whose
``backend`` decides which support block of a provider applies: DOCKER, VIRTUAL_MACHINE, NATIVE), the
application type (BATCH, VNC, WEB), SSH mode, and a list of typed :class:`ApplicationParameter`.

A job supplies :data:`AppParameterValue` objects, a union discriminated on ``type``::

    >>> from pydantic import TypeAdapter
    >>> value = TypeAdapter(AppParameterValue).validate_python({"type": "file", "path": "/1/data", "readOnly": False})
    >>> type(value).__name__, value.path
    ('AppParameterValueFile', '/1/data')

Go writes every field of an ``AppParameterValue`` zero-filled; the zero-valued fields of other variants
are accepted and dropped (see :class:`~spec.wire.base.GoUnionVariant`)::

    >>> TypeAdapter(AppParameterValue).validate_python(
    ...     {"type": "ingress", "id": "55", "port": 0, "path": "", "value": None, "modules": None}).to_wire()
    {'type': 'ingress', 'id': '55', 'port': 0}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from spec.wire.base import GoList, GoUnionVariant, WireModel

__all__ = [
    "AppParameterValue",
    "AppParameterValueApiServer",
    "AppParameterValueBlockStorage",
    "AppParameterValueBoolean",
    "AppParameterValueFile",
    "AppParameterValueFloatingPoint",
    "AppParameterValueIngress",
    "AppParameterValueInteger",
    "AppParameterValueLicenseServer",
    "AppParameterValueModules",
    "AppParameterValueNetwork",
    "AppParameterValuePeer",
    "AppParameterValuePrivateNetwork",
    "AppParameterValueText",
    "AppParameterValueType",
    "AppParameterValueWorkflow",
    "Application",
    "ApplicationInvocationDescription",
    "ApplicationMetadata",
    "ApplicationParameter",
    "ApplicationParameterType",
    "ApplicationType",
    "ContainerDescription",
    "EnumOption",
    "NameAndVersion",
    "SshDescription",
    "SshMode",
    "Tool",
    "ToolBackend",
    "ToolDescription",
    "ToolReference",
    "VncDescription",
    "WebDescription",
    "WorkflowSpecification",
    "value_type_for_parameter",
]


# --- enums (orchestrators/applications.go) -------------------------------------------------------


class ApplicationType(StrEnum):
    """How a user interacts with a running job: BATCH (none), VNC (a remote desktop) or WEB."""

    BATCH = "BATCH"
    VNC = "VNC"
    WEB = "WEB"


class ToolBackend(StrEnum):
    """How the provider runs the tool. Core only supports DOCKER, VIRTUAL_MACHINE and NATIVE; an
    application whose tool is SINGULARITY or UCX is refused with 400 (``core2 job.go:
    jobsValidateForSubmission``)."""

    SINGULARITY = "SINGULARITY"
    DOCKER = "DOCKER"
    VIRTUAL_MACHINE = "VIRTUAL_MACHINE"
    NATIVE = "NATIVE"
    UCX = "UCX"


class SshMode(StrEnum):
    """``invocation.ssh.mode``; absent means DISABLED. ``sshEnabled`` with DISABLED is a 400."""

    DISABLED = "DISABLED"
    OPTIONAL = "OPTIONAL"
    MANDATORY = "MANDATORY"


class ApplicationParameterType(StrEnum):
    """The 16 kinds of application parameter (``applications.go: ApplicationParameterType``).

    There is no ``block_storage`` parameter: ``block_storage`` exists only as a value type.
    """

    INPUT_FILE = "input_file"
    INPUT_DIRECTORY = "input_directory"
    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    ENUMERATION = "enumeration"
    FLOATING_POINT = "floating_point"
    PEER = "peer"
    LICENSE_SERVER = "license_server"
    INGRESS = "ingress"
    NETWORK_IP = "network_ip"
    WORKFLOW = "workflow"
    README = "readme"
    MODULES = "modules"
    PRIVATE_NETWORK = "private_network"


class AppParameterValueType(StrEnum):
    """The 14 kinds of value a job supplies (``applications.go: AppParameterValueType``)."""

    FILE = "file"
    BOOLEAN = "boolean"
    TEXT = "text"
    INTEGER = "integer"
    FLOATING_POINT = "floating_point"
    PEER = "peer"
    LICENSE_SERVER = "license_server"
    BLOCK_STORAGE = "block_storage"
    NETWORK = "network"
    INGRESS = "ingress"
    WORKFLOW = "workflow"
    MODULES = "modules"
    PRIVATE_NETWORK = "private_network"
    API_SERVER = "api_server"


# --- tools ---------------------------------------------------------------------------------------


class NameAndVersion(WireModel):
    """``{name, version}``: names an application or a tool."""

    name: str
    version: str


class ToolDescription(WireModel):
    """What a tool is and, above all, its ``backend`` (the rest is loosely typed and optional)."""

    backend: ToolBackend
    info: NameAndVersion | None = None
    default_number_of_nodes: int | None = None
    default_time_allocation: dict[str, Any] | None = None
    required_modules: list[str] | None = None
    authors: list[str] | None = None
    title: str | None = None
    description: str | None = None
    license: str | None = None
    image: str | None = None
    container: str | None = None
    supported_providers: list[str] | None = None
    load_instructions: dict[str, Any] | None = None


class Tool(WireModel):
    """A tool in the app store: ``{owner, createdAt, modifiedAt, description}``."""

    description: ToolDescription
    owner: str | None = None
    created_at: int | None = None
    modified_at: int | None = None


class ToolReference(WireModel):
    """``invocation.tool``: the tool's name and version and, when resolved, the tool itself.

    Core reads the backend as ``app.Invocation.Tool.Tool.Value.Description.Backend``.
    """

    name: str
    version: str
    tool: Tool | None = None


# --- parameters ----------------------------------------------------------------------------------


class EnumOption(WireModel):
    """One choice of an ``enumeration`` parameter: the user picks ``name``; ``value`` is passed on."""

    name: str
    value: str


class ApplicationParameter(WireModel):
    """One parameter an application accepts (reference §3.3).

    ``defaultValue`` is raw JSON, bare (``5``) or wrapped (``{"value": 5}``). ``min``/``max``/``step``
    are not validated by Core (reference §3.5, "Not validated by Core").
    """

    type: ApplicationParameterType
    name: str
    optional: bool = False
    default_value: Any = None
    title: str | None = None
    description: str | None = None
    min: Any = None
    max: Any = None
    step: Any = None
    unit_name: str | None = None
    true_value: str | None = None
    false_value: str | None = None
    options: list[EnumOption] | None = None
    tagged: list[str] | None = None
    supported_modules: list[dict[str, Any]] | None = None

    @property
    def required(self) -> bool:
        """A parameter must be supplied iff it is not optional and has no default (absent or
        JSON ``null``) (``core2 job.go: jobsValidateForSubmission``, step "missing value")."""
        return not self.optional and self.default_value is None


class WorkflowSpecification(WireModel):
    """The ``specification`` of a ``workflow`` value. Its ``inputs`` join the parameter catalogue
    Core validates against (reference §3.5 step 9); the rest is kept as given."""

    inputs: GoList[ApplicationParameter] = Field(default_factory=list)


# --- values (one Go struct, a union discriminated on `type`) -------------------------------------
# Go: `type AppParameterValue struct {Type, Path, MountPath, ReadOnly, Value, Hostname, JobId, Id,
# Specification, Modules, Port, Tls, Server, Token, TokenType}` (orchestrators/applications.go).


class AppParameterValueFile(GoUnionVariant):
    """A file or folder, by UCloud path ``/<driveId>/...``. Core overwrites ``readOnly`` with
    "the submitter lacks EDIT on the drive". A non-blank ``mountPath`` chooses where it is mounted."""

    type: Literal["file"] = "file"
    path: StrictStr
    read_only: StrictBool = False
    mount_path: StrictStr | None = None


class AppParameterValueBoolean(GoUnionVariant):
    """A ``boolean`` parameter's value."""

    type: Literal["boolean"] = "boolean"
    value: StrictBool


class AppParameterValueText(GoUnionVariant):
    """Text, also for ``textarea`` and ``enumeration`` parameters (Go folds legacy ``textarea`` in)."""

    type: Literal["text"] = "text"
    value: StrictStr


class AppParameterValueInteger(GoUnionVariant):
    """An ``integer`` parameter's value (int64)."""

    type: Literal["integer"] = "integer"
    value: StrictInt


class AppParameterValueFloatingPoint(GoUnionVariant):
    """A ``floating_point`` parameter's value (an integer in JSON is accepted as a float)."""

    type: Literal["floating_point"] = "floating_point"
    value: StrictFloat


class AppParameterValuePeer(GoUnionVariant):
    """Another job this job may reach by ``hostname``; it must be RUNNING when this one is submitted."""

    type: Literal["peer"] = "peer"
    hostname: StrictStr
    job_id: StrictStr


class AppParameterValueLicenseServer(GoUnionVariant):
    """A License resource, by id (bound to the job, not exclusively)."""

    type: Literal["license_server"] = "license_server"
    id: StrictStr


class AppParameterValueBlockStorage(GoUnionVariant):
    """A block-storage volume, by id (a value type only: no parameter has this type)."""

    type: Literal["block_storage"] = "block_storage"
    id: StrictStr


class AppParameterValueNetwork(GoUnionVariant):
    """A public IP (``network_ip`` parameter), by id; bound exclusively to the job."""

    type: Literal["network"] = "network"
    id: StrictStr


class AppParameterValueIngress(GoUnionVariant):
    """A public link (Ingress), by id; bound exclusively. ``port`` 0 means the application's default;
    another port needs the backend's ``bindLinkToPort`` feature."""

    type: Literal["ingress"] = "ingress"
    id: StrictStr
    port: StrictInt = 0


class AppParameterValueWorkflow(GoUnionVariant):
    """A workflow, whose ``specification.inputs`` extend the parameter catalogue."""

    type: Literal["workflow"] = "workflow"
    specification: WorkflowSpecification


class AppParameterValueModules(GoUnionVariant):
    """A list of module names (``null`` reads as ``[]``)."""

    type: Literal["modules"] = "modules"
    modules: GoList[StrictStr] = Field(default_factory=list)


class AppParameterValuePrivateNetwork(GoUnionVariant):
    """A private network, by id; its provider must be the compute product's provider."""

    type: Literal["private_network"] = "private_network"
    id: StrictStr


class AppParameterValueApiServer(GoUnionVariant):
    """Access to an API server; allowed in ``resources`` only, never persisted by Core."""

    type: Literal["api_server"] = "api_server"
    server: StrictStr
    token: StrictStr
    token_type: StrictStr


AppParameterValue = Annotated[
    AppParameterValueFile
    | AppParameterValueBoolean
    | AppParameterValueText
    | AppParameterValueInteger
    | AppParameterValueFloatingPoint
    | AppParameterValuePeer
    | AppParameterValueLicenseServer
    | AppParameterValueBlockStorage
    | AppParameterValueNetwork
    | AppParameterValueIngress
    | AppParameterValueWorkflow
    | AppParameterValueModules
    | AppParameterValuePrivateNetwork
    | AppParameterValueApiServer,
    Field(discriminator="type"),
]
"""One value of a job's ``parameters`` or ``resources``: a union discriminated on ``type``."""


# Parameter type -> accepted value types (core2 job.go: jobsValidateForSubmission; the same table is
# orchestrators/jobs.go: VerifyParameterType). A `readme` parameter accepts no value at all.
_V = AppParameterValueType
_P = ApplicationParameterType
_COMPATIBLE: dict[ApplicationParameterType, frozenset[AppParameterValueType]] = {
    _P.INPUT_FILE: frozenset({_V.FILE}),
    _P.INPUT_DIRECTORY: frozenset({_V.FILE}),
    _P.TEXT: frozenset({_V.TEXT}),
    _P.TEXTAREA: frozenset({_V.TEXT}),
    _P.ENUMERATION: frozenset({_V.TEXT}),
    _P.INTEGER: frozenset({_V.INTEGER}),
    _P.BOOLEAN: frozenset({_V.BOOLEAN}),
    _P.FLOATING_POINT: frozenset({_V.FLOATING_POINT}),
    _P.PEER: frozenset({_V.PEER}),
    _P.LICENSE_SERVER: frozenset({_V.LICENSE_SERVER}),
    _P.INGRESS: frozenset({_V.INGRESS}),
    _P.NETWORK_IP: frozenset({_V.NETWORK}),
    _P.WORKFLOW: frozenset({_V.WORKFLOW}),
    _P.MODULES: frozenset({_V.MODULES}),
    _P.PRIVATE_NETWORK: frozenset({_V.PRIVATE_NETWORK}),
    _P.README: frozenset(),
}


def value_type_for_parameter(
    param_type: ApplicationParameterType | str,
) -> frozenset[AppParameterValueType]:
    """The value types Core accepts for a parameter of ``param_type`` (reference §3.4).

    Source: ``core2 job.go: jobsValidateForSubmission`` ("incorrect parameter type" is a 400). A
    ``readme`` parameter accepts nothing: supplying a value for it is a 400.

    >>> sorted(value_type_for_parameter("input_directory"))
    [<AppParameterValueType.FILE: 'file'>]
    >>> value_type_for_parameter(ApplicationParameterType.README)
    frozenset()
    """
    return _COMPATIBLE[ApplicationParameterType(param_type)]


# --- invocation ----------------------------------------------------------------------------------


class VncDescription(WireModel):
    """How to reach a VNC application's desktop."""

    password: str | None = None
    port: int | None = None


class WebDescription(WireModel):
    """The port a WEB application listens on."""

    port: int | None = None


class SshDescription(WireModel):
    """``invocation.ssh``."""

    mode: SshMode = SshMode.DISABLED


class ContainerDescription(WireModel):
    """Container options of the invocation."""

    change_working_directory: bool = False
    run_as_root: bool = False
    run_as_real_user: bool = False


class ApplicationInvocationDescription(WireModel):
    """How an application is run (reference §3.2). The fields the specification reads are typed; the
    rest (command-line template, environment, sbatch, ...) is optional and loosely typed.

    The ``allow*`` flags are *not* enforced by core2's submission validation (UI hints at most).
    """

    tool: ToolReference
    application_type: ApplicationType
    parameters: GoList[ApplicationParameter] = Field(default_factory=list)
    ssh: SshDescription | None = None
    web: WebDescription | None = None
    vnc: VncDescription | None = None
    job_audit_log_is_enabled: bool | None = None
    allow_additional_mounts: bool | None = None
    allow_additional_peers: bool | None = None
    allow_multi_node: bool | None = None
    allow_public_ip: bool | None = None
    allow_public_link: bool | None = None
    # loosely typed
    invocation: list[dict[str, Any]] | None = None
    output_file_globs: list[str] | None = None
    container: ContainerDescription | None = None
    environment: dict[str, Any] | None = None
    file_extensions: list[str] | None = None
    license_servers: list[str] | None = None
    modules: dict[str, Any] | None = None
    sbatch: dict[str, Any] | None = None
    ucx: Any = None
    inference: Any = None


class ApplicationMetadata(WireModel):
    """Name, version and descriptive data of an application."""

    name: str
    version: str
    authors: list[str] | None = None
    title: str | None = None
    description: str | None = None
    website: str | None = None
    public: bool | None = None
    flavor_name: str | None = None
    group: dict[str, Any] | None = None
    created_at: int | None = None


class Application(WireModel):
    """An application: ``{metadata, invocation, favorite?, versions?}`` (``applications.go: Application``)."""

    metadata: ApplicationMetadata
    invocation: ApplicationInvocationDescription
    favorite: bool | None = None
    versions: list[str] | None = None

    @property
    def name_and_version(self) -> NameAndVersion:
        """The ``{name, version}`` a job names this application by."""
        return NameAndVersion(name=self.metadata.name, version=self.metadata.version)

    @property
    def backend(self) -> ToolBackend | None:
        """The tool's backend, or ``None`` when the tool is not resolved in this payload."""
        tool = self.invocation.tool.tool
        return tool.description.backend if tool is not None else None

    @property
    def ssh_mode(self) -> SshMode:
        """The SSH mode; DISABLED when the application says nothing."""
        ssh = self.invocation.ssh
        return ssh.mode if ssh is not None else SshMode.DISABLED

    @property
    def application_type(self) -> ApplicationType:
        """BATCH, VNC or WEB."""
        return self.invocation.application_type

    def parameter(self, name: str) -> ApplicationParameter | None:
        """The application's parameter called ``name``, if any."""
        return next((p for p in self.invocation.parameters if p.name == name), None)
