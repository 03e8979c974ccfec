"""The OpenTelemetry Resource of the recorder's own providers: who is emitting.

``codetracer.run.id`` (one id per recorder process), the recorder's name and version, the
SDK's ``process.*`` attributes without the command line (it can hold secrets), then the
SDK's standard detection (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``,
``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``). ``service.name`` is never set here: the CLI's
``--service_name`` sets ``OTEL_SERVICE_NAME``, so the variable and the flag mean the same.
"""

from opentelemetry.sdk.resources import ProcessResourceDetector, Resource

from codetracer_recorder import _native

RUN_ID = "codetracer.run.id"
RECORDER_NAME = "codetracer.recorder.name"
RECORDER_VERSION = "codetracer.recorder.version"
NAME = "codetracer-recorder"


def run_id() -> str:
    """The recorder's ``run_id`` (one UUID per process; a forked child gets a new one)."""
    return str(_native.run_id())


def recorder_resource() -> Resource:
    """The Resource for providers the recorder builds itself; the explicit attributes win
    over the environment's, the environment over the process detector."""
    process = ProcessResourceDetector(include_command_args=False).detect()
    own = {RUN_ID: run_id(), RECORDER_NAME: NAME, RECORDER_VERSION: _native.__version__}
    return process.merge(Resource.create(own))
