"""docs/operations.md's parameter and output tables are what template.yaml declares (tools/template_reference.py)."""

import re

import pytest

from offline.cfn_template import load_template
from offline.repo_paths import REPO_ROOT
from tools import template_reference


def test_the_operations_page_lists_every_parameter_and_output_as_the_template_describes_them() -> None:
    assert template_reference.main(["--check"]) == 0, "run: .venv/bin/python -m tools.template_reference"


def test_a_parameter_added_to_the_template_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    template = load_template()
    template["Parameters"]["BrandNewParameter"] = {"Type": "String", "Default": "", "Description": "New."}
    monkeypatch.setattr(template_reference, "load_template", lambda: template)
    assert template_reference.main(["--check"]) == 1


def test_required_parameters_and_conditional_outputs_are_marked() -> None:
    template = load_template()
    parameters = template_reference.parameters_table(template)
    assert "| `VonageSecretName` | **required** |" in parameters
    outputs = template_reference.outputs_table(template)
    conditional = [name for name, output in template["Outputs"].items() if "Condition" in output]
    assert all(f"(only when `{template['Outputs'][name]['Condition']}`)" in outputs for name in conditional)


def test_every_environment_variable_the_configuration_reads_is_documented() -> None:
    # The names config.py reads (load_settings): each must have a row in docs/operations.md's table.
    source = (REPO_ROOT / "layers" / "revoker" / "python" / "rcs_revoker" / "config.py").read_text()
    names = set(re.findall(r'environ(?:\.get\()?(?:, )?"([A-Z][A-Z0-9_]+)"', source))
    names |= set(re.findall(r'_\w+\(environ, "([A-Z][A-Z0-9_]+)"', source))
    page = template_reference.PAGE.read_text()
    assert len(names) >= 15
    assert sorted(name for name in names if f"`{name}`" not in page) == []
