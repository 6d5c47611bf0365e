"""failOnWarning: which installer output lines are warnings (npm 6 and 7+, pip, uv)."""

from __future__ import annotations

import pytest

from mcp_gateway.errors import InstallFailed
from mcp_gateway.installer.base import InstallSpec, refuse_warnings

STRICT = InstallSpec("pkg", fail_on_warning=True)


@pytest.mark.parametrize(
    "line",
    [
        "npm warn deprecated pkg@1.0.0: use 2",
        "npm WARN deprecated pkg@1.0.0: use 2",
        "WARNING: The candidate selected for download or install is a yanked version",
        "warning: `pkg==1.0` is yanked (reason: broken)",
    ],
)
def test_a_warning_line_fails_a_strict_install_naming_it_with_the_log(line: str) -> None:
    log = f"added 1 package\n{line}\ndone\n"
    with pytest.raises(InstallFailed) as exc:
        refuse_warnings(STRICT, log)
    assert line in exc.value.message and "failOnWarning" in exc.value.message
    assert exc.value.log == log
    refuse_warnings(InstallSpec("pkg"), log)  # not asked for: only a warning


def test_output_without_warnings_or_mentioning_them_mid_line_passes() -> None:
    refuse_warnings(STRICT, "added 1 package\nResolved 3 packages; 0 warnings\nnpm notice x\n")
