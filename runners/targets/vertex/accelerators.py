"""The accelerator types Vertex AI takes (aiplatform_v1's AcceleratorType), known without importing
the SDK.

Importing even `google.cloud.aiplatform_v1.types.accelerator_type` runs the package's __init__:
about 500 modules and 2.5 s, which a launch or a dry run must not pay. So the names are read
from the installed SDK's source file (parsed, not imported), and when the SDK is not installed
(a launch from a machine without `launchbay[vertex]`) from SHIPPED, the list of the SDK version
launchbay was tested with. Regenerate SHIPPED with `python -m runners.targets.vertex.accelerators`;
a test compares both with the real enum.

gcloud spells the same types in lower case with dashes (`nvidia-tesla-a100`): normalize()
accepts that spelling and gives the API's.
"""

import ast
import difflib
import functools
import importlib.util
from pathlib import Path

# google-cloud-aiplatform 2.7.0's AcceleratorType, in the enum's order.
SHIPPED = (
    "ACCELERATOR_TYPE_UNSPECIFIED",
    "NVIDIA_TESLA_K80",
    "NVIDIA_TESLA_P100",
    "NVIDIA_TESLA_V100",
    "NVIDIA_TESLA_P4",
    "NVIDIA_TESLA_T4",
    "NVIDIA_TESLA_A100",
    "NVIDIA_A100_80GB",
    "NVIDIA_L4",
    "NVIDIA_H100_80GB",
    "NVIDIA_H100_MEGA_80GB",
    "NVIDIA_H200_141GB",
    "NVIDIA_B200",
    "NVIDIA_GB200",
    "NVIDIA_RTX_PRO_6000",
    "TPU_V2",
    "TPU_V3",
    "TPU_V4_POD",
    "TPU_V5_LITEPOD",
)
UNSPECIFIED = "ACCELERATOR_TYPE_UNSPECIFIED"
SOURCE = Path("aiplatform_v1", "types", "accelerator_type.py")  # under google/cloud/


@functools.cache
def accelerator_types() -> tuple[str, ...]:
    """The installed SDK's names, else SHIPPED."""
    source = _installed_source()
    names = _enum_names(source.read_text()) if source is not None else ()
    return names or SHIPPED


def normalize(value: str) -> str:
    """The API's name for `value` (`nvidia-tesla-a100` → NVIDIA_TESLA_A100); ValueError with
    the closest names when Vertex has no such type."""
    name = value.strip().upper().replace("-", "_")
    known = accelerator_types()
    if name in known:
        return name
    # A part of a name (A100, h100) is hinted by the names holding it; a typo by similarity.
    holding = [n for n in known if len(name) >= 3 and name in n]
    closest = holding[:3] or difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if closest:
        expected = f"did you mean {' or '.join(closest)}?"
    else:
        expected = f"expected one of {', '.join(n for n in known if n != UNSPECIFIED)}"
    raise ValueError(
        f"not an accelerator type of Vertex AI; {expected} (gcloud's spelling, nvidia-tesla-t4,"
        " is taken too)"
    )


def _installed_source() -> Path | None:
    """aiplatform_v1's accelerator_type.py, found on google.cloud's path without importing it
    (google and google.cloud are namespace packages: finding them imports nothing else)."""
    try:
        spec = importlib.util.find_spec("google.cloud")
    except (ModuleNotFoundError, ValueError):  # no google package, or a broken one
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder, SOURCE)
        if path.is_file():
            return path
    return None


def _enum_names(text: str) -> tuple[str, ...]:
    """The members of `class AcceleratorType(proto.Enum)`: its `NAME = number` lines."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and node.name == "AcceleratorType":
            return tuple(
                target.id
                for statement in node.body
                if isinstance(statement, ast.Assign)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, int)
                for target in statement.targets
                if isinstance(target, ast.Name)
            )
    return ()


if __name__ == "__main__":  # prints SHIPPED as the installed SDK has it
    from runners.targets.vertex.sdk import aiplatform_types

    print("SHIPPED = (")
    for member in aiplatform_types.AcceleratorType:
        print(f'    "{member.name}",')
    print(")")
