"""YAML read with libyaml's parser must read exactly what PyYAML's own safe loader reads, and fail where it fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from newsmon.config import PROJECT_ROOT
from newsmon.files import load_yaml

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["yes", "no", "on", "off", "~", "null", "1e3", "0x1F", "0o17", "2026-11-26", "12:30:00", "-.inf"])
)
_DOCUMENTS = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


@given(_DOCUMENTS, st.sampled_from([None, False, True]))
def test_any_document_reads_as_pyyamls_safe_loader_reads_it(document: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    assert load_yaml(text) == yaml.safe_load(text)


@given(st.sampled_from(["yes", "No", "ON", "1_000", "0b101", "1:20", "2026-11-26 10:00:00Z", ".NaN", "'quoted'"]))
def test_plain_scalars_resolve_to_the_same_types(scalar: str) -> None:
    text = f"value: {scalar}\n"
    expected, read = yaml.safe_load(text), load_yaml(text)
    assert read == expected or (read["value"] != read["value"] and expected["value"] != expected["value"])  # NaN
    assert type(read["value"]) is type(expected["value"])


@pytest.mark.parametrize(
    "path",
    sorted([*PROJECT_ROOT.glob("config/*.yaml"), *PROJECT_ROOT.glob("seeds/*.yaml"), PROJECT_ROOT / "prefect.yaml"]),
)
def test_the_projects_own_files_read_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text", ["feeds: [a, b", "a: b: c", "- !!python/object:os.system ls", "key: 'open", "\tfeeds: []", "&a [*b]"]
)
def test_what_pyyaml_refuses_is_refused_with_its_message(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as refused:
        load_yaml(text)
    assert str(refused.value) == str(expected.value)  # the line quoted, a caret under the fault
