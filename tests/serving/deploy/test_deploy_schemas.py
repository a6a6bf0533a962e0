"""The deployment files against schemas nobody here wrote, offline: Kubernetes' own OpenAPI-derived JSON schemas
(as shipped by the `kubernetes-validate` package, strict: unknown fields are errors) for serving/deploy/k8s,
and the Compose Specification's JSON schema (as vendored by `check-jsonschema`) for docker-compose.yml.

Each schema is also shown to catch a typo'd field, so a test that passes is a test that could fail.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from serving.deploy.layout import K8S_FILES

DEPLOY = Path(__file__).resolve().parents[3] / "serving" / "deploy"
K8S_VERSION = kubernetes_validate.latest_version()


def k8s_documents() -> list[tuple[str, dict]]:
    """Every resource of every committed manifest, with the file it came from."""
    documents = []
    for name in K8S_FILES.values():
        documents += [(name, document) for document in yaml.safe_load_all((DEPLOY / name).read_text()) if document]
    return documents


def compose_errors(document: dict) -> list[str]:
    text = resources.files("check_jsonschema").joinpath("builtin_schemas/vendor/compose-spec.json").read_text()
    schema = json.loads(text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(document)]


def k8s_error(document: dict) -> str | None:
    try:
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return error.message
    return None


@pytest.mark.parametrize(("name", "document"), k8s_documents(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_manifest_is_valid_kubernetes(name, document):
    assert k8s_error(document) is None, f"{name} {document['kind']}"


def test_the_manifests_cover_the_resources_a_replicated_server_needs():
    kinds = {document["kind"] for _, document in k8s_documents()}
    assert {"Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"} <= kinds


def test_a_typo_in_a_manifest_field_is_caught():
    deployment = next(document for _, document in k8s_documents() if document["kind"] == "Deployment")
    typo = copy.deepcopy(deployment)
    container = typo["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert "readinesProbe" in (k8s_error(typo) or "")


def test_the_compose_file_follows_the_compose_specification():
    assert compose_errors(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())) == []


def test_a_typo_in_a_compose_field_is_caught():
    typo = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    service = next(iter(typo["services"].values()))
    service["volumes"][0]["read_onyl"] = service["volumes"][0].pop("read_only")
    assert any("read_onyl" in message for message in compose_errors(typo))
