"""The resource registry: lazy runners, and a missing extra named with what to install."""

import pytest

from runners import registry
from runners.registry import MissingExtra, ResourceType, get_runner, resource_type
from store import BadInput


def test_an_unknown_resource_type_lists_the_known_ones():
    with pytest.raises(BadInput) as caught:
        resource_type("mainframe")
    assert "local-process" in str(caught.value)


def test_a_runner_whose_sdk_is_missing_names_the_extra_to_install(monkeypatch):
    fake = ResourceType(
        name="fake-cloud",
        module="runners.does_not_exist",
        class_name="X",
        description="test",
        extra="fakecloud",
        requires=("surely_not_an_installed_module",),
    )
    monkeypatch.setattr(registry, "RESOURCE_TYPES", (*registry.RESOURCE_TYPES, fake))
    with pytest.raises(MissingExtra) as caught:
        get_runner("fake-cloud")
    message = str(caught.value)
    assert "surely_not_an_installed_module" in message
    assert "pip install 'launchbay[fakecloud]'" in message


def test_the_cli_reports_resource_types_and_their_extras(cli):
    result = cli("resources")
    assert result.code == 0
    assert "local-process" in result.out and "(built in)" in result.out
    rows = {line.split()[0]: line.split()[1] for line in result.out.splitlines()[1:]}
    assert rows["docker"] == "local-container"
    assert rows["kubernetes"] == "k8s"
    assert rows["vertex"] == "gcp-vertex"


def test_docker_without_its_sdk_says_which_extra_to_install(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(registry, "_runners", {})
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "docker" else real_find_spec(name, *args),
    )
    with pytest.raises(MissingExtra) as caught:
        get_runner("local-container")  # the alias names the same resource
    assert str(caught.value) == "resource: docker needs docker: pip install 'launchbay[docker]'"
